"""Deterministic fault injection for the stand-in (`dev-server --faults SPEC`).

A release step must survive what real networks and real Sentry do to it: rate limits, 5xx
from a proxy, latency, connections cut before or after the server acted. This module turns
a short spec into a `FaultPlan` the stand-in consults on every request, so tests (and users
trying the tool) can inject exactly those faults, reproducibly.

Spec language (clauses separated by `;`, whitespace around parts ignored)::

    seed=7                                     # seeds the `rate:` draws (default 0)
    [METHOD ]PATTERN=FAULT[@TRIGGER]           # one rule

PATTERN is a glob (`*` matches across `/`) over the request path, with or without the
`/api/0` prefix: `/organizations/*/releases/*/deploys/`. Two pseudo paths reach faults that
no HTTP status can express: `chunk/<sha1>` (a chunk being stored) and `assemble/<sha1>`
(an artifact bundle being assembled).

FAULT is one of:

- `429[:S]`          rate limited, with Sentry's `X-Sentry-Rate-Limit-*` headers; Reset is
                     S seconds ahead (default 1). Not handled: state unchanged.
- `429-retry-after[:S]`  429 with only `Retry-After: S` (a proxy's answer).
- `429-date[:S]`     429 with `Retry-After` as an HTTP-date S seconds ahead.
- `429-bare`         429 with no hint at all (self-hosted): the client must back off itself.
- `500`, `502`, `503`, `504` (any 4xx/5xx code)  that status with a JSON `detail`; not handled.
- `delay:S`          S seconds of added latency, then handled normally.
- `reset`            connection reset mid-request: the request was read, never handled.
- `reset-after`      connection reset mid-response: handled (state changed!), the client
                     sees only a reset. This is the fault that doubles non-idempotent calls.
- `timeout[:S]`      handled, then no answer for S seconds (default 5) and the connection
                     closed: the client's read timeout fires after the server acted.
- `drop`             (pseudo path `chunk/*`) the chunk is acknowledged, then forgotten.
- `stuck`            (pseudo path `assemble/*`) assemble answers `assembling` instead.

TRIGGER picks which matching requests the fault hits; each rule counts its own matches
(1-based), so a rule naming one endpoint counts that endpoint's requests:

- omitted / `always`  every match
- `N`                 the Nth match; `N-M` a range; `1,3,5` a list (ranges allowed in lists)
- `first:N`           the first N matches (`1-N`)
- `rate:P`            each match with probability P, drawn from (seed, rule, match number)
                      so the same spec hits the same requests however threads interleave

Rules are tried in order; the first rule whose pattern and trigger both match decides.

Example::

    seed=7;POST /organizations/*/releases/*/deploys/=reset-after@1;*/chunk-upload/*=503@rate:0.3

Hook API for endpoint modules (`sentry_standin/chunks.py` calls these; `request.server.faults`
is the plan or None, and `fault_plan(request.server)` returns a no-op plan for None):

- `plan.drop_chunk(checksum) -> bool`: call once per chunk accepted from an upload, after
  deciding to acknowledge it; True means acknowledge it but do not keep it.
- `plan.assemble_state(checksum) -> str | None`: call at the start of each assemble request;
  a state string (`"assembling"`) means answer with that state (and no missing chunks)
  without assembling; None means proceed normally.
"""

from __future__ import annotations

import contextlib
import email.utils
import fnmatch
import hashlib
import io
import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sentry_standin.errors import StandinConfigError

API_PREFIX = "/api/0"
DEFAULT_TIMEOUT_HOLD = 5.0
DEFAULT_RATE_LIMIT_RESET = 1.0
BEFORE_KINDS = frozenset({"status", "delay", "reset", "429"})
AFTER_KINDS = frozenset({"reset-after", "timeout"})
HOOK_KINDS = frozenset({"drop", "stuck"})
RATE_LIMIT_STYLES = ("sentry", "retry-after", "date", "bare")
SPEC_HELP = (
    "write rules like 'seed=7;POST /organizations/*/releases/*/deploys/=reset-after@1' "
    "(see docs/reliability.md)"
)


@dataclass(frozen=True)
class Fault:
    """What to do to a request: the kind and its parameter."""

    kind: str  # status | 429 | delay | reset | reset-after | timeout | drop | stuck
    status: int = 0
    seconds: float = 0.0
    style: str = "sentry"  # 429 only: which rate-limit headers to send

    def describe(self) -> str:
        """The fault as written in a spec (for logs and test messages)."""
        if self.kind == "status":
            return str(self.status)
        if self.kind == "429":
            return "429" if self.style == "sentry" else f"429-{self.style}"
        if self.kind in ("delay", "timeout"):
            return f"{self.kind}:{self.seconds:g}"
        return self.kind


@dataclass(frozen=True)
class Trigger:
    """Which matches of a rule the fault hits."""

    numbers: frozenset[int] = frozenset()  # empty and rate None: always
    rate: float | None = None

    def fires(self, seed: int, rule_index: int, count: int) -> bool:
        """Whether the `count`th match (1-based) of rule `rule_index` is hit."""
        if self.rate is not None:
            return _draw(seed, rule_index, count) < self.rate
        return not self.numbers or count in self.numbers


@dataclass(frozen=True)
class Rule:
    """One `[METHOD ]PATTERN=FAULT[@TRIGGER]` clause."""

    method: str | None
    pattern: str
    fault: Fault
    trigger: Trigger
    text: str

    def matches(self, method: str, path: str) -> bool:
        """Method (when given) and glob over the path with or without `/api/0`."""
        if self.method is not None and self.method != method:
            return False
        short = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path
        return fnmatch.fnmatchcase(path, self.pattern) or fnmatch.fnmatchcase(short, self.pattern)


@dataclass(frozen=True)
class Injection:
    """A record of one injected fault, so tests can prove the fault really fired."""

    rule: str
    fault: str
    method: str
    path: str
    count: int


@dataclass
class FaultPlan:
    """A parsed fault spec; `FaultPlan()` injects nothing."""

    rules: tuple[Rule, ...] = ()
    seed: int = 0
    active: bool = True
    injected: list[Injection] = field(default_factory=list)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    echo: Callable[[str], None] | None = None  # dev-server prints each injection here
    _counts: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- parsing --------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Parse a spec (see the module docstring); StandinConfigError names the bad clause."""
        seed = 0
        rules: list[Rule] = []
        for raw in spec.split(";"):
            clause = raw.strip()
            if not clause:
                continue
            key, sep, value = clause.partition("=")
            if key.strip().lower() == "seed" and sep:
                try:
                    seed = int(value.strip())
                except ValueError:
                    raise StandinConfigError(
                        f"fault spec: seed must be an integer, got {value!r}"
                    ) from None
                continue
            rules.append(_parse_rule(clause))
        return cls(rules=tuple(rules), seed=seed)

    # --- decisions ------------------------------------------------------------------

    def decide(self, method: str, path: str, kinds: frozenset[str]) -> Fault | None:
        """The fault for this request among rules of `kinds`, counting every rule it matches."""
        if not self.active:
            return None
        chosen: Fault | None = None
        with self._lock:
            for index, rule in enumerate(self.rules):
                if rule.fault.kind not in kinds or not rule.matches(method, path):
                    continue
                count = self._counts.get(index, 0) + 1
                self._counts[index] = count
                if chosen is None and rule.trigger.fires(self.seed, index, count):
                    chosen = rule.fault
                    self.injected.append(
                        Injection(rule.text, rule.fault.describe(), method, path, count)
                    )
        if chosen is not None and self.echo is not None:
            last = self.injected[-1]
            self.echo(
                f"fault: {last.fault} on {method} {path} (match {last.count} of {last.rule!r})"
            )
        return chosen

    def disarm(self) -> None:
        """Stop injecting (tests read the final state back through the same server)."""
        self.active = False

    def fired(self, fault: str | None = None) -> list[Injection]:
        """Injections so far, optionally of one fault (as written, e.g. `503`, `reset-after`)."""
        with self._lock:
            return [i for i in self.injected if fault is None or i.fault == fault]

    # --- HTTP hooks (called by sentry_standin/app.py) ------------------------------------

    def before(self, handler: Any, method: str, path: str, body: bytes) -> bool:
        """Inject a fault before handling; True when the request was consumed.

        The decision for the whole request is taken here, once, so `@N` counts requests
        whatever phase the fault acts in; an after-handling fault waits on the handler.
        """
        fault = self.decide(method, path, BEFORE_KINDS | AFTER_KINDS)
        handler._pending_fault = fault if fault is not None and fault.kind in AFTER_KINDS else None
        if fault is None or fault.kind in AFTER_KINDS:
            return False
        if fault.kind == "delay":
            self.sleep(fault.seconds)
            return False
        if fault.kind == "reset":
            _reset(handler)
            return True
        from sentry_standin.routing import Response

        if fault.kind == "429":
            headers = self._rate_limit_headers(fault)
            detail = "You are attempting to use this endpoint too frequently. Limit is 40 requests"
            handler._send(Response(429, {"detail": detail}, headers))
            return True
        detail = f"Injected fault: HTTP {fault.status} ({_REASONS.get(fault.status, 'error')})"
        handler._send(Response(fault.status, {"detail": detail}))
        return True

    def after(self, handler: Any, method: str, path: str, response: Any) -> bool:
        """Inject the fault `before` chose for after handling; True when the response was cut."""
        fault: Fault | None = getattr(handler, "_pending_fault", None)
        handler._pending_fault = None
        if fault is None:
            return False
        if fault.kind == "timeout":
            self.sleep(fault.seconds)
        _reset(handler)
        return True

    # --- hooks for endpoint modules (sentry_standin/chunks.py) ---------------------------

    def drop_chunk(self, checksum: str) -> bool:
        """True: acknowledge this chunk but do not keep it (a `chunk/*=drop` rule fired)."""
        return self.decide("POST", f"chunk/{checksum}", frozenset({"drop"})) is not None

    def assemble_state(self, checksum: str) -> str | None:
        """`"assembling"` when a `assemble/*=stuck` rule fired for this request, else None."""
        fault = self.decide("POST", f"assemble/{checksum}", frozenset({"stuck"}))
        return "assembling" if fault is not None else None

    def _rate_limit_headers(self, fault: Fault) -> dict[str, str]:
        now = self.clock()
        if fault.style == "retry-after":
            return {"Retry-After": f"{fault.seconds:g}"}
        if fault.style == "date":
            return {"Retry-After": email.utils.formatdate(now + fault.seconds, usegmt=True)}
        if fault.style == "bare":
            return {}
        return {
            "X-Sentry-Rate-Limit-Limit": "40",
            "X-Sentry-Rate-Limit-Remaining": "0",
            "X-Sentry-Rate-Limit-Reset": str(math.ceil(now + fault.seconds)),
            "X-Sentry-Rate-Limit-ConcurrentLimit": "25",
            "X-Sentry-Rate-Limit-ConcurrentRemaining": "24",
        }


def fault_plan(server: Any) -> FaultPlan:
    """The server's plan, or a plan that injects nothing (for endpoint modules' hooks)."""
    plan = getattr(server, "faults", None)
    return plan if isinstance(plan, FaultPlan) else FaultPlan()


# --- parsing helpers --------------------------------------------------------------------

_REASONS = {
    400: "bad request",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")


def _parse_rule(clause: str) -> Rule:
    target, sep, rest = clause.rpartition("=")
    if not sep or not target.strip() or not rest.strip():
        raise StandinConfigError(
            f"fault spec: {clause!r} is not PATTERN=FAULT[@TRIGGER]; {SPEC_HELP}"
        )
    method: str | None = None
    target = target.strip()
    head, space, tail = target.partition(" ")
    if space and head.upper() in _METHODS:
        method, target = head.upper(), tail.strip()
    fault_text, _, trigger_text = rest.strip().partition("@")
    fault = _parse_fault(fault_text.strip(), clause)
    if fault.kind == "drop" and not target.startswith("chunk/"):
        raise StandinConfigError(f"fault spec: {clause!r}: drop applies to chunk/* only")
    if fault.kind == "stuck" and not target.startswith("assemble/"):
        raise StandinConfigError(f"fault spec: {clause!r}: stuck applies to assemble/* only")
    return Rule(method, target, fault, _parse_trigger(trigger_text.strip(), clause), clause)


def _seconds(text: str, clause: str, default: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise StandinConfigError(
            f"fault spec: {clause!r}: {text!r} is not a number of seconds"
        ) from None
    if value < 0 or value != value:
        raise StandinConfigError(f"fault spec: {clause!r}: seconds must not be negative")
    return value


def _parse_fault(text: str, clause: str) -> Fault:
    name, _, arg = text.lower().partition(":")
    if name in ("429", "429-retry-after", "429-date", "429-bare"):
        style = "sentry" if name == "429" else name[4:]
        return Fault("429", 429, _seconds(arg, clause, DEFAULT_RATE_LIMIT_RESET), style)
    if name.isdigit() and 400 <= int(name) <= 599 and not arg:
        return Fault("status", int(name))
    if name == "delay":
        if not arg:
            raise StandinConfigError(f"fault spec: {clause!r}: write delay:SECONDS")
        return Fault("delay", seconds=_seconds(arg, clause, 0.0))
    if name == "timeout":
        return Fault("timeout", seconds=_seconds(arg, clause, DEFAULT_TIMEOUT_HOLD))
    if name in ("reset", "reset-after", "drop", "stuck") and not arg:
        return Fault(name)
    raise StandinConfigError(
        f"fault spec: {clause!r}: unknown fault {text!r} (one of 429, 500, 502, 503, 504, "
        "delay:S, reset, reset-after, timeout:S, drop, stuck)"
    )


def _parse_trigger(text: str, clause: str) -> Trigger:
    word = text.lower()
    if word in ("", "always", "*"):
        return Trigger()
    try:
        if word.startswith("rate:"):
            rate = float(word[5:])
            if not 0.0 <= rate <= 1.0:
                raise ValueError
            return Trigger(rate=rate)
        if word.startswith("first:"):
            return Trigger(numbers=frozenset(range(1, int(word[6:]) + 1)))
        numbers: set[int] = set()
        for part in word.split(","):
            low, dash, high = part.strip().partition("-")
            start, end = int(low), int(high) if dash else int(low)
            if start < 1 or end < start:
                raise ValueError
            numbers.update(range(start, end + 1))
        return Trigger(numbers=frozenset(numbers))
    except ValueError:
        raise StandinConfigError(
            f"fault spec: {clause!r}: trigger {text!r} must be N, N-M, N,M, first:N, rate:P "
            "(0..1) or always"
        ) from None


def _draw(seed: int, rule_index: int, count: int) -> float:
    """A uniform [0, 1) number fixed by (seed, rule, match number): thread-order independent."""
    digest = hashlib.sha256(f"{seed}:{rule_index}:{count}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _reset(handler: Any) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0) and stop the handler's loop."""
    handler.close_connection = True
    connection: socket.socket = handler.connection
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The socket's fd closes only when its file wrappers are closed too.
    for stream in (handler.wfile, handler.rfile):
        with contextlib.suppress(OSError, ValueError):
            stream.close()
    connection.close()
    # The handler flushes and closes these after the request; give it harmless stand-ins.
    handler.wfile, handler.rfile = io.BytesIO(), io.BytesIO()


__all__ = ["Fault", "FaultPlan", "Injection", "Rule", "Trigger", "fault_plan"]
