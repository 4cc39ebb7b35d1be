"""Bring the real Sentry 23.7.1 up for the real-server tier, from nothing and idempotently
(issue #21): `python tests/realserver/server.py up|down|env|status`, wrapped by
`.ci/real-sentry.sh`.

Everything lives under `.ci/real-sentry/` (gitignored): a Python 3.8 venv (pyenv's) with
`sentry==23.7.1`, a Postgres cluster and a Redis of its own on free 127.0.0.1 ports, a Snuba
stand-in (`snuba_standin.py`), Sentry's config, logs, and `state.json` (ports, pids, tokens).
`down` stops only the processes this started (their pids, their process groups).

Runs as root on Debian: apt-get installs postgresql, redis-server, libxmlsec1-dev and
pkg-config when missing; Postgres runs as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STATE_DIR = Path(os.environ.get("REAL_SENTRY_DIR") or ROOT / ".ci" / "real-sentry")
VENV = STATE_DIR / "venv"
STATE = STATE_DIR / "state.json"
SENTRY_VERSION = "23.7.1"
APT_PACKAGES = {  # Debian package -> a file that shows it is installed
    "postgresql": "/usr/lib/postgresql",
    "redis-server": "/usr/bin/redis-server",
    "libxmlsec1-dev": "/usr/include/xmlsec1",
    "pkg-config": "/usr/bin/pkg-config",
}
PG_USER = "postgres"
WEB_DEADLINE = 180.0  # seconds for `sentry run web` to answer its first request


def say(message: str) -> None:
    print(f"real-sentry: {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    say("$ " + " ".join(shlex.quote(c) for c in cmd))
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def load() -> dict[str, Any]:
    return json.loads(STATE.read_text()) if STATE.exists() else {}


def save(state: dict[str, Any]) -> None:
    STATE.write_text(json.dumps(state, indent=2, sort_keys=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def wait_for(what: str, ready: Any, deadline: float) -> None:
    end = time.monotonic() + deadline
    while not ready():
        if time.monotonic() > end:
            raise SystemExit(f"real-sentry: {what} not ready after {deadline:.0f}s")
        time.sleep(0.5)


# --- packages -----------------------------------------------------------------------------


def apt_packages() -> None:
    missing = [p for p, marker in APT_PACKAGES.items() if not Path(marker).exists()]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    # Debian starts its own services on install; this tier runs its own instances instead
    for service in ("redis-server", "postgresql"):
        if service in missing and shutil.which("systemctl") is None:
            subprocess.run(["service", service, "stop"], capture_output=True)


def python38() -> str:
    found = sorted(glob.glob("/root/.pyenv/versions/3.8.*/bin/python"))
    if os.environ.get("REAL_SENTRY_PYTHON"):
        return os.environ["REAL_SENTRY_PYTHON"]
    if not found:
        raise SystemExit("real-sentry: no Python 3.8 (pyenv's /root/.pyenv/versions/3.8.*)")
    return found[-1]


def sentry_installed() -> bool:
    meta = glob.glob(
        str(VENV / "lib/python3.8/site-packages" / f"sentry-{SENTRY_VERSION}.dist-info")
    )
    return bool(meta) and (VENV / "bin/sentry").exists()


def install_sentry() -> None:
    if sentry_installed():
        return
    if not (VENV / "bin/python").exists():
        run([python38(), "-m", "venv", str(VENV)])
    # yanked on PyPI, but an exact pin installs; builds (xmlsec) share 2 cores: nice
    run(["nice", "-n", "10", str(VENV / "bin/pip"), "install", "-q", f"sentry=={SENTRY_VERSION}"])


# --- services -----------------------------------------------------------------------------


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"real-sentry: no {name} under /usr/lib/postgresql")
    return found[-1]


def as_pg(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() != 0 else ["runuser", "-u", PG_USER, "--", *cmd]


def start_postgres(state: dict[str, Any]) -> None:
    data = STATE_DIR / "pg"
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, PG_USER, PG_USER)
        run(
            as_pg(
                [pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            stdout=subprocess.DEVNULL,
        )
    port = state.get("pg_port")
    if port and (data / "postmaster.pid").exists() and port_open(port):
        return
    if not port or port_open(port):
        port = state["pg_port"] = free_port()
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        as_pg(
            [
                pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(data / "log"),
                "-w",
                "start",
            ]
        ),
        stdout=subprocess.DEVNULL,
    )
    pid = int((data / "postmaster.pid").read_text().split()[0])
    state["pg_pid"] = pid
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-tAc",
            "SELECT 1 FROM pg_database WHERE datname='sentry'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        run(["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "sentry"])


def spawn(name: str, cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Start a process of ours in its own session (so `down` can stop its process group)."""
    log = open(STATE_DIR / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - kept by the child
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=STATE_DIR
    )
    return proc.pid


def start_redis(state: dict[str, Any]) -> None:
    port = state.get("redis_port")
    if alive(state.get("redis_pid")) and port and port_open(port):
        return
    if not port or port_open(port):
        port = state["redis_port"] = free_port()
    (STATE_DIR / "redis").mkdir(exist_ok=True)
    state["redis_pid"] = spawn(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(STATE_DIR / "redis"),
        ],
    )
    wait_for("redis", lambda: port_open(port), 20)


def start_snuba(state: dict[str, Any]) -> None:
    port = state.get("snuba_port")
    if alive(state.get("snuba_pid")) and port and port_open(port):
        return
    if not port or port_open(port):
        port = state["snuba_port"] = free_port()
    state["snuba_pid"] = spawn("snuba", [sys.executable, str(HERE / "snuba_standin.py"), str(port)])
    wait_for("snuba stand-in", lambda: port_open(port), 20)


CONF_PY = """\
# Written by tests/realserver/server.py: Sentry 23.7.1 for the real-server tier.
from sentry.conf.server import *  # noqa

DATABASES = {{"default": {{
    "ENGINE": "sentry.db.postgres", "NAME": "sentry", "USER": "postgres", "PASSWORD": "",
    "HOST": "127.0.0.1", "PORT": "{pg_port}",
}}}}
SENTRY_USE_BIG_INTS = True
SENTRY_SINGLE_ORGANIZATION = False
# no worker, no Kafka: tasks (artifact-bundle assembly) run inside the request
CELERY_ALWAYS_EAGER = True
BROKER_URL = "redis://127.0.0.1:{redis_port}/1"
SENTRY_CACHE = "sentry.cache.redis.RedisCache"
SENTRY_BUFFER = "sentry.buffer.redis.RedisBuffer"
SENTRY_QUOTAS = "sentry.quotas.redis.RedisQuota"
SENTRY_TSDB = "sentry.tsdb.redis.RedisTSDB"
SENTRY_RATELIMITER = "sentry.ratelimits.redis.RedisRateLimiter"
SENTRY_DIGESTS = "sentry.digests.backends.redis.RedisBackend"
SENTRY_SNUBA = "http://127.0.0.1:{snuba_port}"
SENTRY_WEB_HOST = "127.0.0.1"
SENTRY_WEB_PORT = {web_port}
# http11: uWSGI's plain `http` socket drops reused (keep-alive) connections
SENTRY_WEB_OPTIONS = {{"workers": 2, "threads": 4, "protocol": "http11"}}
SENTRY_OPTIONS["system.url-prefix"] = "http://127.0.0.1:{web_port}"
SENTRY_OPTIONS["system.admin-email"] = "admin@example.com"
SENTRY_OPTIONS["mail.backend"] = "dummy"
SENTRY_OPTIONS["filestore.backend"] = "filesystem"
SENTRY_OPTIONS["filestore.options"] = {{"location": "{files}"}}
SENTRY_OPTIONS["system.secret-key"] = "{secret}"
SENTRY_OPTIONS["redis.clusters"] = {{"default": {{"hosts": {{0: {{"host": "127.0.0.1",
                                                              "port": {redis_port}}}}}}}}}
SENTRY_OPTIONS["beacon.anonymous"] = True
SENTRY_BEACON = False
SECURE_PROXY_SSL_HEADER = None
"""


def write_config(state: dict[str, Any]) -> None:
    conf = STATE_DIR / "conf"
    conf.mkdir(exist_ok=True)
    (STATE_DIR / "files").mkdir(exist_ok=True)
    state.setdefault("secret", secrets.token_hex(32))
    if not state.get("web_port") or (
        not alive(state.get("web_pid")) and port_open(state["web_port"])
    ):
        state["web_port"] = free_port()
    (conf / "sentry.conf.py").write_text(CONF_PY.format(files=STATE_DIR / "files", **state))
    (conf / "config.yml").write_text("# all options are in sentry.conf.py\n")


def sentry_env() -> dict[str, str]:
    return {**os.environ, "SENTRY_CONF": str(STATE_DIR / "conf"), "PYTHONWARNINGS": "ignore"}


def sentry(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run([str(VENV / "bin/sentry"), *args], env=sentry_env(), **kwargs)


def upgrade(state: dict[str, Any]) -> None:
    if state.get("upgraded") == SENTRY_VERSION:
        return
    sentry("upgrade", "--noinput", stdout=subprocess.DEVNULL)
    state["upgraded"] = SENTRY_VERSION
    save(state)


TOKEN_NAMES = (
    "org_token",
    "read_token",
    "releases_token",
    "member_token",
    "event_token",
    "orgread_token",
)


def accounts(state: dict[str, Any]) -> None:
    if set(TOKEN_NAMES) <= set(state.get("tokens") or {}):
        return
    out = STATE_DIR / "accounts.json"
    env = {**sentry_env(), "REAL_SENTRY_OUT": str(out), "REAL_SENTRY_STATE": str(STATE_DIR)}
    run([str(VENV / "bin/sentry"), "exec", str(HERE / "setup_sentry.py")], env=env)
    state["tokens"] = json.loads(out.read_text())
    save(state)


def web_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/0/", timeout=3) as r:
            return bool(r.status)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def start_web(state: dict[str, Any]) -> None:
    port = state["web_port"]
    if alive(state.get("web_pid")) and web_ready(port):
        return
    state["web_pid"] = spawn("web", [str(VENV / "bin/sentry"), "run", "web"], env=sentry_env())
    save(state)
    wait_for("sentry web", lambda: web_ready(port) or not alive(state["web_pid"]), WEB_DEADLINE)
    if not alive(state["web_pid"]):
        raise SystemExit("real-sentry: `sentry run web` exited; see .ci/real-sentry/logs/web.log")


# --- commands -----------------------------------------------------------------------------


def up() -> None:
    started = time.monotonic()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    (STATE_DIR / "logs").mkdir(exist_ok=True)
    state = load()
    apt_packages()
    install_sentry()
    start_postgres(state)
    save(state)
    start_redis(state)
    save(state)
    start_snuba(state)
    save(state)
    write_config(state)
    save(state)
    upgrade(state)
    accounts(state)
    start_web(state)
    save(state)
    say(f"up in {time.monotonic() - started:.0f}s at {url(state)}")
    print(env_lines(state))


def ours(pid: int, marker: str) -> bool:
    """Whether the process is still the one `up` started (its command line names `marker`,
    or where `marker` leads when it is a symlink: a venv linked from another checkout runs
    as that checkout's python), not another that got the pid after ours ended."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline or os.path.realpath(marker) in cmdline


def stop(pid: int | None, name: str, marker: str) -> None:
    if not alive(pid):
        return
    assert pid is not None
    if not ours(pid, marker):
        say(f"pid {pid} is no longer our {name}: left alone")
        return
    say(f"stopping {name} (pid {pid})")
    try:
        os.killpg(pid, signal.SIGTERM)  # spawn() made it a group leader: its workers too
    except ProcessLookupError:
        return
    end = time.monotonic() + 20
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.2)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)


def down() -> None:
    state = load()
    stop(state.pop("web_pid", None), "sentry web", str(VENV))
    stop(state.pop("snuba_pid", None), "snuba stand-in", "snuba_standin.py")
    stop(state.pop("redis_pid", None), "redis", "redis-server")
    data = STATE_DIR / "pg"
    if state.pop("pg_pid", None) and (data / "postmaster.pid").exists():
        run(
            as_pg([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
        )
    if STATE.exists():
        save(state)


def url(state: dict[str, Any]) -> str:
    return f"http://127.0.0.1:{state['web_port']}"


def env_lines(state: dict[str, Any]) -> str:
    """Shell lines that point the tier's tests at this server (`eval "$(... env)"`)."""
    tokens = state["tokens"]
    values = {
        "SENTRY_REAL_URL": url(state),
        "SENTRY_REAL_ORG_TOKEN": tokens["org_token"],
        "SENTRY_REAL_READ_TOKEN": tokens["read_token"],
        "SENTRY_REAL_RELEASES_TOKEN": tokens["releases_token"],
        "SENTRY_REAL_MEMBER_TOKEN": tokens["member_token"],
        "SENTRY_REAL_EVENT_TOKEN": tokens["event_token"],
        "SENTRY_REAL_ORGREAD_TOKEN": tokens["orgread_token"],
        "SENTRY_REAL_LOG": str(STATE_DIR / "logs" / "web.log"),
    }
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in values.items())


def summary() -> str:
    """Requests per client (user agent) in the server's request log, and those answered
    >= 400, for CI's log (the tests themselves fail on any refusal they did not provoke)."""
    import collections
    import re

    line = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"/ ]+)')
    total: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[tuple[str, str, str]] = collections.Counter()
    log = STATE_DIR / "logs" / "web.log"
    for text in log.read_text(errors="replace").splitlines() if log.exists() else []:
        m = line.search(text)
        if not m or m[4] not in ("sentry-release", "sentry-cli"):
            continue
        total[m[4]] += 1
        if int(m[3]) >= 400:
            refused[(m[4], m[3], m[1] + " " + m[2].split("?", 1)[0])] += 1
    lines = [f"{agent}: {n} requests" for agent, n in sorted(total.items())]
    lines += [
        f"  {n} x {status} {what} ({agent})" for (agent, status, what), n in sorted(refused.items())
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "up"
    if command == "up":
        up()
    elif command == "down":
        down()
    elif command == "summary":
        print(summary())
    elif command == "env":
        state = load()
        if not state.get("tokens") or not alive(state.get("web_pid")):
            say("not up: run `.ci/real-sentry.sh up`")
            return 1
        print(env_lines(state))
    else:
        say(f"unknown command {command!r}: use up, down, env or summary")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
