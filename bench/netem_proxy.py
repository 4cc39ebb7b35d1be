"""A shaping TCP proxy on loopback: emulated latency and bandwidth in front of the stand-in.

`tc netem` is not available here (the kernel has no netem qdisc), so the bench puts this proxy
between each tool and the stand-in. Standard library only (asyncio).

    python bench/netem_proxy.py --upstream 127.0.0.1:PORT --profile runner
    # first stdout line: JSON {"url", "control", "profile", "selfcheck"}; then it serves until
    # SIGTERM. GET <control>/stats returns the counters as JSON.

The model, per connection:

- **Delay**: every byte is delivered RTT/2 after the proxy read it, in each direction, so a
  request/response exchange costs one RTT on top of the server's time.
- **Bandwidth**: a token bucket per direction for the whole link (shared by every connection)
  and one per connection (by default as wide as the link, so one connection can fill it and
  parallel connections share it). Bytes wait for their tokens first (serialisation), then
  travel (propagation), like a real link. Buckets allow debt, so waiting readers are served in
  the order they asked; the burst is 20 ms of the rate (it lets the pacing catch up after
  a late timer on a busy machine).
- **Handshakes**: the proxy has no TLS. A client's connect() to it returns at once, so the
  proxy holds the first bytes of a new connection as the handshakes would: with
  `handshake_rtts` 2 (the bench's default: TCP plus a TLS 1.3 full handshake, what a CI
  runner pays per new connection to https://sentry.io) the TCP handshake ends 1 RTT after
  the accept and the TLS one 1 RTT after the later of that and the client's first bytes (a
  client that connects early and starts TLS only when it has a request, as ours does with a
  connection opened at process start, still pays the TLS RTT then); `handshake_rtts` 1 models
  TCP only. A client that writes at once (sentry-cli) pays 2 RTT from the accept either way.
  Not modelled: TLS CPU cost, TCP slow start (a new connection here gets the full rate at
  once, which flatters clients that open many connections), packet loss, DNS.
- **Counting**: connections, request/response exchanges (a turn of the conversation: bytes
  from the client after bytes from the server, or the first bytes of a connection; with
  HTTP/1.1 that is a request, plus one for each `Expect: 100-continue`), bytes each way
  (headers included), and the most connections open at once.

At start the proxy checks itself through a shaped echo server of its own: handshake time,
RTT (median of 5 ping-pongs on one connection) and throughput each way; the result is printed
with the URL and kept in the stats, so every table says what network it was measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

BURST_SECONDS = 0.02
MIN_READ, MAX_READ = 4096, 65536
QUEUE_CHUNKS = 2048


@dataclass(frozen=True)
class Profile:
    """One emulated network."""

    name: str
    rtt_ms: float
    mbit: float  # link bandwidth each way, shared by every connection; 0 = unlimited
    conn_mbit: float = 0.0  # per-connection cap; 0 = as wide as the link
    handshake_rtts: int = 2  # RTTs before a new connection's first byte: 1 TCP, 2 TCP+TLS 1.3

    def describe(self) -> str:
        """`30 ms RTT / 200 Mbit/s, TCP + TLS 1.3 handshake (2 RTT per new connection)`."""
        rate = f"{self.mbit:g} Mbit/s" if self.mbit else "unlimited"
        shake = {0: "no handshake", 1: "TCP handshake", 2: "TCP + TLS 1.3 handshake"}.get(
            self.handshake_rtts, f"{self.handshake_rtts}-RTT handshake"
        )
        return (
            f"{self.rtt_ms:g} ms RTT / {rate}, {shake} "
            f"({self.handshake_rtts} RTT per new connection)"
        )


PROFILES = {
    "runner": Profile("runner", 30, 200),
    "far": Profile("far", 120, 20),
    "loopback": Profile("loopback", 0, 0, handshake_rtts=0),
}


class Bucket:
    """A token bucket in bytes that allows debt: callers wait in the order they took tokens."""

    def __init__(self, mbit: float) -> None:
        self.rate = mbit * 1e6 / 8  # bytes per second; 0 = unlimited
        self.capacity = max(self.rate * BURST_SECONDS, MAX_READ)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self, size: int) -> float:
        """Take `size` tokens; the seconds the caller must wait before sending them."""
        if not self.rate:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= size
        return -self.tokens / self.rate if self.tokens < 0 else 0.0

    def read_size(self) -> int:
        """Read in pieces of about 4 ms of the rate, so pacing stays smooth."""
        if not self.rate:
            return MAX_READ
        return int(min(MAX_READ, max(MIN_READ, self.rate * 0.004)))


@dataclass
class Stats:
    """Cumulative counters (the harness reads them before and after each step)."""

    connections: int = 0
    exchanges: int = 0
    bytes_up: int = 0  # client -> server
    bytes_down: int = 0  # server -> client
    open_now: int = 0
    max_open: int = 0
    upstream_failures: int = 0
    selfcheck: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def handshake_done(accepted: float, first: float, rtts: int, rtt: float) -> float:
    """When a new connection's first bytes may go out: TCP ends 1 RTT after the accept, TLS
    (the RTTs beyond the first) starts at the later of that and the client's first bytes."""
    if rtts <= 0:
        return first
    return max(accepted + rtt, first) + (rtts - 1) * rtt


class Link:
    """The emulated network: its buckets, its counters, and the pumps of every connection."""

    def __init__(self, profile: Profile, upstream: tuple[str, int]) -> None:
        self.profile = profile
        self.upstream = upstream
        self.one_way = profile.rtt_ms / 2000
        self.up = Bucket(profile.mbit)
        self.down = Bucket(profile.mbit)
        self.stats = Stats()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: connect upstream, pump both ways through the shaping."""
        accepted = time.monotonic()
        stats = self.stats
        stats.connections += 1
        stats.open_now += 1
        stats.max_open = max(stats.max_open, stats.open_now)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                stats.upstream_failures += 1
                writer.close()
                return
            rtts, rtt = self.profile.handshake_rtts, self.profile.rtt_ms / 1000

            def ready(first: float) -> float:
                return handshake_done(accepted, first, rtts, rtt)

            conn_mbit = self.profile.conn_mbit or self.profile.mbit
            turn = ["down"]  # the first client bytes start an exchange
            try:
                await asyncio.gather(
                    self._pump(reader, up_writer, [self.up, Bucket(conn_mbit)], ready, "up", turn),
                    self._pump(
                        up_reader, writer, [self.down, Bucket(conn_mbit)], None, "down", turn
                    ),
                    return_exceptions=True,
                )
            finally:
                up_writer.close()
        finally:
            stats.open_now -= 1
            writer.close()

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        buckets: list[Bucket],
        ready: Callable[[float], float] | None,
        direction: str,
        turn: list[str],
    ) -> None:
        """Read, wait for tokens, then deliver after the one-way delay (a queue keeps order);
        nothing is delivered before `ready(time of the first bytes)`."""
        not_before = 0.0
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)
        deliver = asyncio.create_task(self._deliver(queue, sink))
        size = buckets[0].read_size()
        try:
            while True:
                data = await source.read(size)
                if not data:
                    break
                if ready is not None:
                    not_before, ready = ready(time.monotonic()), None
                if direction == "up":
                    self.stats.bytes_up += len(data)
                    if turn[0] == "down":
                        self.stats.exchanges += 1
                else:
                    self.stats.bytes_down += len(data)
                turn[0] = direction
                wait = max(bucket.take(len(data)) for bucket in buckets)
                if wait > 0:
                    await asyncio.sleep(wait)
                now = time.monotonic()
                await queue.put((max(now, not_before) + self.one_way, data))
        except (ConnectionError, OSError):
            pass
        finally:
            await queue.put((0.0, b""))
            await deliver

    @staticmethod
    async def _deliver(
        queue: asyncio.Queue[tuple[float, bytes]], sink: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                at, data = await queue.get()
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()
                    return
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            # the other side is gone: drain the queue so the reader is not blocked
            while True:
                _, data = await queue.get()
                if not data:
                    return


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Self-check server. `p` echoes one byte; `u<n>` reads n bytes then answers `k`;
    `d<n>` sends n bytes."""
    try:
        while True:
            op = await reader.readexactly(1)
            if op == b"p":
                writer.write(b"p")
            elif op in (b"u", b"d"):
                n = int((await reader.readline()).strip())
                if op == b"u":
                    await reader.readexactly(n)
                    writer.write(b"k")
                else:
                    writer.write(b"\0" * n)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def selfcheck(profile: Profile) -> dict[str, Any]:
    """Measure the emulated network through a private copy of the link: handshake, RTT,
    throughput each way (expected values beside the measured ones)."""
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    link = Link(profile, ("127.0.0.1", port))
    shaped = await asyncio.start_server(link.handle, "127.0.0.1", 0)
    shaped_port = shaped.sockets[0].getsockname()[1]
    rtt = profile.rtt_ms / 1000
    rate = profile.mbit * 1e6 / 8
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", shaped_port)
    writer.write(b"p")
    await reader.readexactly(1)
    first = time.monotonic() - started
    pings = []
    for _ in range(5):
        t = time.monotonic()
        writer.write(b"p")
        await reader.readexactly(1)
        pings.append(time.monotonic() - t)
    size = int(max(256_000, rate * 0.4)) if rate else 8_000_000
    t = time.monotonic()
    writer.write(b"u%d\n" % size + b"\0" * size)
    await reader.readexactly(1)
    up_s = time.monotonic() - t
    t = time.monotonic()
    writer.write(b"d%d\n" % size)
    await reader.readexactly(size)
    down_s = time.monotonic() - t
    writer.close()
    shaped.close()
    echo.close()
    # throughput: the bytes over the time beyond one RTT (the request/answer exchange)
    result = {
        "first_exchange_ms": round(first * 1000, 1),
        "first_exchange_expected_ms": round((profile.handshake_rtts + 1) * rtt * 1000, 1),
        "rtt_ms": round(statistics.median(pings) * 1000, 1),
        "rtt_expected_ms": profile.rtt_ms,
        "up_mbit": round(size * 8 / max(up_s - rtt, 1e-6) / 1e6, 1),
        "down_mbit": round(size * 8 / max(down_s - rtt, 1e-6) / 1e6, 1),
        "expected_mbit": profile.mbit or None,
        "probe_bytes": size,
    }
    return result


async def _control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
    """`GET /stats` -> the counters as JSON (any path answers the same)."""
    try:
        await reader.readuntil(b"\r\n\r\n")
        body = json.dumps({**link.stats.as_dict(), "profile": asdict(link.profile)}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(profile: Profile, upstream: tuple[str, int], check: bool) -> None:
    """Self-check, print the URLs, serve until SIGTERM/SIGINT."""
    link = Link(profile, upstream)
    if check:
        link.stats.selfcheck = await selfcheck(profile)
    server = await asyncio.start_server(link.handle, "127.0.0.1", 0, backlog=512)
    control = await asyncio.start_server(lambda r, w: _control(r, w, link), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    control_port = control.sockets[0].getsockname()[1]
    print(
        json.dumps(
            {
                "url": f"http://127.0.0.1:{port}/",
                "control": f"http://127.0.0.1:{control_port}/stats",
                "profile": asdict(profile),
                "describe": profile.describe(),
                "selfcheck": link.stats.selfcheck,
            }
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    control.close()


def parse_profile(args: argparse.Namespace) -> Profile:
    """The named profile with any of its numbers overridden."""
    base = PROFILES[args.profile]
    return Profile(
        name=args.profile,
        rtt_ms=base.rtt_ms if args.rtt_ms is None else args.rtt_ms,
        mbit=base.mbit if args.mbit is None else args.mbit,
        conn_mbit=base.conn_mbit if args.conn_mbit is None else args.conn_mbit,
        handshake_rtts=base.handshake_rtts if args.handshake_rtts is None else args.handshake_rtts,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="host:port of the stand-in")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="runner")
    parser.add_argument("--rtt-ms", type=float, default=None)
    parser.add_argument("--mbit", type=float, default=None, help="link rate each way (0: none)")
    parser.add_argument("--conn-mbit", type=float, default=None, help="per-connection cap")
    parser.add_argument(
        "--handshake-rtts",
        type=int,
        default=None,
        help="RTTs per new connection before its first byte: 1 TCP, 2 TCP + TLS 1.3 (default)",
    )
    parser.add_argument("--no-check", dest="check", action="store_false")
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(serve(parse_profile(args), (host or "127.0.0.1", int(port)), args.check))
    return 0


if __name__ == "__main__":
    sys.exit(main())
