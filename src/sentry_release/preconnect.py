"""Open the TCP connection to Sentry while the rest of the tool loads.

A networked command spends ~0.2-0.4 s importing click, its settings and requests before its
first request, and only then opens its connection: the TCP handshake (1 RTT: 30 ms from a
hosted runner to sentry.io, 120 ms from a far region) came on top. `start` resolves and
connects in a daemon thread at process start (DNS and connect() release the GIL, so they
overlap the imports); the first connection the transport opens to the same host and port
takes the socket (`take`). TLS is still done by urllib3 on that socket, with the same
verification as any other connection: only the TCP handshake (and DNS) is moved.

Only an explicit Sentry URL (`--url` or `SENTRY_URL`) is connected to, never a guess, and
nothing is sent on the socket before the transport has it: a command that stops on bad input
closes it unused. With a proxy in the environment the transport connects to the proxy, so
nothing is started. Standard library only: this runs before anything else is imported.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

# The commands that talk to Sentry; for any other (inject, --help, …) nothing is opened.
NETWORKED = frozenset(
    {
        "new",
        "finalize",
        "deploy",
        "deploys",
        "info",
        "set-commits",
        "upload-sourcemaps",
        "gate",
        "check",
        "run",
    }
)
# The group's options that take no value (config/options.py, checked by a test): every other
# option before the command's name takes one, so its value is not the command.
GROUP_FLAGS = frozenset({"--dry-run", "--debug", "--allow-failure", "--json", "--version", "-V"})
CONNECT_TIMEOUT = 10.0
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")


class _Pending:
    """One connection being opened in the background."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self.abandoned = False
        self.lock = threading.Lock()  # `sock` and `abandoned` change together
        self.thread = threading.Thread(target=self._connect, args=(timeout,), daemon=True)
        self.thread.start()

    def _connect(self, timeout: float) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 sets it
        except (OSError, ValueError, UnicodeError):
            return  # no socket: the transport connects itself and reports any error
        with self.lock:
            if self.abandoned:
                sock.close()
            else:
                self.sock = sock

    def settle(self, wait: float) -> socket.socket | None:
        """The socket once connected within `wait` seconds; None when it failed or is still
        connecting (then it is abandoned: closed by the thread when it connects)."""
        self.thread.join(wait)
        with self.lock:
            if self.sock is None:
                self.abandoned = True
            return self.sock


_lock = threading.Lock()
_pending: _Pending | None = None


def target(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, int] | None:
    """The (host, port) to open for this command line, or None.

    Pure: the command must be a networked one, the URL explicit (`--url X`, `--url=X`, else
    `SENTRY_URL`), http(s), and no proxy variable set.
    """
    if command_of(argv) not in NETWORKED or "--help" in argv or "-h" in argv:
        return None
    if any(environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES):
        return None
    url = environ.get("SENTRY_URL") or None
    for index, arg in enumerate(argv):
        if arg == "--url" and index + 1 < len(argv):
            url = argv[index + 1]
        elif arg.startswith("--url="):
            url = arg.partition("=")[2]
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def command_of(argv: Sequence[str]) -> str | None:
    """The command's name: the first word that is not an option or an option's value (a
    folder named `run` after `inject` is an argument, not a command)."""
    words = iter(argv)
    for arg in words:
        if arg == "--":
            return next(words, None)
        if not arg.startswith("-") or arg == "-":
            return arg
        attached = "=" in arg or (not arg.startswith("--") and len(arg) > 2)  # -pweb
        if not attached and arg not in GROUP_FLAGS:
            next(words, None)  # the option's value
    return None


def start(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """Start opening the connection this command will need (no-op when `target` is None)."""
    global _pending
    where = target(argv, environ)
    if where is None:
        return
    with _lock:
        if _pending is None:
            _pending = _Pending(*where, CONNECT_TIMEOUT)


def take(host: str, port: int, wait: float | None = None) -> socket.socket | None:
    """The pre-opened socket to (host, port), once; None when there is none, it failed, it
    is still connecting after `wait` seconds (the caller's connect timeout), or it is for
    another address (then it is closed)."""
    pending = _pop()
    if pending is None:
        return None
    sock = pending.settle(CONNECT_TIMEOUT if wait is None else min(wait, CONNECT_TIMEOUT))
    if sock is None:
        return None
    if (pending.host, pending.port) != (host, port) or _closed_by_peer(sock):
        sock.close()
        return None
    return sock


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server already closed the idle connection (readable at EOF, or reset)."""
    try:
        sock.setblocking(False)
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False  # nothing to read: still open
        finally:
            sock.setblocking(True)
    except OSError:
        return True


def _pop() -> _Pending | None:
    """The pending connection, taken out: only one caller ever gets it."""
    global _pending
    with _lock:
        pending, _pending = _pending, None
    return pending


def reset() -> None:
    """Close an unused pre-opened socket (tests, and a process that will not connect)."""
    pending = _pop()
    sock = pending.settle(CONNECT_TIMEOUT) if pending is not None else None
    if sock is not None:
        sock.close()
