"""How the tool talks to people: plain lines on a terminal, workflow commands on GitHub,
a live bar on a TTY and a periodic line in CI logs for long work."""

from __future__ import annotations

import copy
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from sentry_release.redact import redact

PROGRESS_INTERVAL = 5.0  # seconds between progress lines in CI logs


# Characters that drive a terminal or reorder what it shows: C0 controls but tab and line
# feed (ESC starts colour, cursor and title sequences; CR overwrites a line), DEL, C1 (0x9b
# is a one-byte CSI), and the bidi overrides and isolates that make `exe.png` of `gnp.exe`.
_CONTROL_RE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def escape_controls(text: str) -> str:
    """`text` with every terminal control shown as its Python escape (`\\x1b`, `\\u202e`)."""
    return _CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def escape_data(text: str) -> str:
    """Escape a workflow-command message (`%`, CR, LF) as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value (also `:` and `,`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# The runner reads a workflow command from any line of stdout or stderr whose trimmed text
# starts with `::` (and the legacy `##[command]` form anywhere in a line). Text we did not
# write ourselves (file and release names, commit messages, Sentry's answers) must not be
# able to start one: such a line gets a visible `\` in front; `##[` becomes `# #[`.
COMMAND_START = "::"
LEGACY_COMMAND = "##["
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def neutralise_commands(text: str) -> str:
    """`text` as log lines none of which the runner reads as a workflow command."""
    lines = []
    for line in text.splitlines() or [""]:  # every break the runner (or a viewer) may see
        line = line.replace(LEGACY_COMMAND, "# #[")
        if line.lstrip().lstrip(INVISIBLE).lstrip().startswith(COMMAND_START):
            line = "\\" + line
        lines.append(line)
    return "\n".join(lines)


class Output:
    """Every line the tool prints goes through here, so secrets are redacted in one place."""

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        github: bool = False,
        quiet: bool = False,
        is_tty: bool | None = None,
        json_mode: bool = False,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.github = github
        self.quiet = quiet
        self.is_tty = self.stderr.isatty() if is_tty is None else is_tty
        self.json_mode = json_mode  # stdout carries one JSON object; lines go to stderr
        self.warnings: list[str] = []
        self.current_step: str | None = None  # the group in progress, to name it on failure
        # the log group not opened yet (opened by its first line), shared by copies of this
        # output that write to the same streams
        self._pending: list[str] = []
        self._status: _Status | None = None  # the line redrawn in place, under `live`

    def _open_group(self) -> None:
        """Open the pending log group (GitHub), so it holds the line about to be written;
        end the live status line first, so no line lands on it."""
        if self._status is not None:
            self._status.clear()
        if self._pending:
            name = self._pending.pop()
            self._command(self.stdout, f"::group::{escape_data(redact(name))}")

    @staticmethod
    def _command(stream: TextIO, line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    def _write(self, stream: TextIO, line: str) -> None:
        """Write text we did not choose to be a command: on GitHub, never a workflow command."""
        self._open_group()
        text = escape_controls(redact(line))
        if self.github:
            text = neutralise_commands(text)
        stream.write(text + "\n")
        stream.flush()

    def command(self, name: str, message: str = "", *, stream: TextIO | None = None) -> None:
        """One of our own workflow commands (`::name::message`); the message is escaped, so
        it stays on one line and cannot start another command."""
        self._open_group()
        self._command(
            stream or self.stdout, f"::{name}::{escape_data(escape_controls(redact(message)))}"
        )

    def result(self, line: str) -> None:
        """The one-line outcome of a command (stdout, never quiet; stderr under --json)."""
        self._write(self.stderr if self.json_mode else self.stdout, line)

    def json(self, data: object) -> None:
        """The command's result as one JSON object on stdout (`--json`)."""
        import json

        self._write(self.stdout, json.dumps(data, indent=2, default=str))

    def info(self, line: str) -> None:
        """Progress narration (stderr); under `live`, a status line is redrawn in place."""
        if self.quiet:
            return
        if self._status is not None and self._status.takes(line):
            self._status.show(line)
        else:
            self._write(self.stderr, line)

    @contextmanager
    def live(
        self,
        is_status: Callable[[str], str | None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[Output]:
        """An output for long work whose narration repeats one status (a waiting loop):
        `is_status(line)` gives a status line's state, or None for an ordinary line. On a
        terminal the status is one line redrawn in place with a spinner; elsewhere (CI logs)
        it is printed when its state changes and at most once a minute otherwise."""
        twin = copy.copy(self)
        twin._status = _Status(twin, is_status, clock)
        try:
            yield twin
        finally:
            twin._status.clear()
            twin._status = None

    def warn(self, line: str) -> None:
        """Something the user should fix, that does not stop the run."""
        self.warnings.append(redact(line))
        if self.github:
            self.command("warning", line)
        else:
            self._write(self.stderr, f"warning: {line}")

    def error(self, line: str, *, title: str | None = None) -> None:
        """The final error line."""
        if self.github:
            props = f" title={escape_property(escape_controls(redact(title)))}" if title else ""
            self.command(f"error{props}", line)
        else:
            self._write(self.stderr, f"error: {line}")

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """A collapsible log group on GitHub, opened by its first line and closed after its
        last (a step that prints nothing leaves no empty group); a heading elsewhere. The
        step's name is kept while it runs, and after it fails."""
        self.current_step = name
        if self.github:
            self._pending[:] = [name]
            try:
                yield
            finally:
                if not self._pending:  # opened: something was written in it
                    self._command(self.stdout, "::endgroup::")
                self._pending.clear()
        else:
            self.info(f"==> {name}")
            yield
        self.current_step = None

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        """A plain aligned table on stdout."""
        widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
        for row in [headers, ["-" * w for w in widths], *rows]:
            cells = (str(c).ljust(w) for c, w in zip(row, widths, strict=False))
            self.result("  ".join(cells).rstrip())

    def progress(self, label: str, total: int, unit: str = "") -> Progress:
        """A progress reporter for `total` units of work."""
        return Progress(self, label, total, unit)

    def held(self) -> tuple[Output, Callable[[], None]]:
        """A copy of this output (same kind, flags and warnings list) whose lines are held,
        and the function that writes them here, in order: for a step that runs in a thread
        beside others, so its lines do not land inside another step's group."""
        held: list[tuple[bool, str]] = []
        twin = copy.copy(self)
        twin.stdout, twin.stderr = _Held(held, False), _Held(held, True)
        twin.is_tty = False  # no bar redrawn in place: its lines are printed later
        twin._pending, twin._status = [], None

        def release() -> None:
            if held:
                self._open_group()
            for to_stderr, text in held:
                (self.stderr if to_stderr else self.stdout).write(text)
            held.clear()
            self.stdout.flush()
            self.stderr.flush()

        return twin, release


STATUS_EVERY = 60.0  # seconds between repeats of an unchanged status in CI logs
SPINNER = "|/-\\"


class _Status:
    """The state of `Output.live`: the status line on screen (terminal), or what was last
    printed and when (CI logs)."""

    def __init__(
        self, out: Output, state: Callable[[str], str | None], clock: Callable[[], float]
    ) -> None:
        self.out, self.state, self.clock = out, state, clock
        self.shown = False  # a status line is on the terminal, without its newline
        self.frames = 0
        self.last: tuple[str, float] | None = None  # CI: the state printed, and when

    def takes(self, line: str) -> bool:
        return self.state(line) is not None

    def show(self, line: str) -> None:
        out = self.out
        if out.is_tty:
            import shutil

            width = max(20, shutil.get_terminal_size().columns - 1)
            spin = SPINNER[self.frames % len(SPINNER)]
            self.frames += 1
            text = f"{spin} {redact(line)}"[:width]
            out.stderr.write(f"\r\x1b[K{text}")
            out.stderr.flush()
            self.shown = True
            return
        state, now = self.state(line), self.clock()
        if self.last is None or self.last[0] != state or now - self.last[1] >= STATUS_EVERY:
            self.last = (state or "", now)
            out._status = None  # print it as an ordinary line
            try:
                out._write(out.stderr, line)
            finally:
                out._status = self

    def clear(self) -> None:
        """Take the status line off the terminal (before another line, and at the end)."""
        if self.shown:
            self.shown = False
            self.out.stderr.write("\r\x1b[K")
            self.out.stderr.flush()


class _Held:
    """A stream whose writes are kept, in order with its sibling's, until released."""

    def __init__(self, held: list[tuple[bool, str]], to_stderr: bool) -> None:
        self._held, self._to_stderr = held, to_stderr

    def write(self, text: str) -> int:
        self._held.append((self._to_stderr, text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def md_cell(value: object) -> str:
    """A Markdown table cell for the job summary: pipes escaped, newlines flattened."""
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ").strip()


def human_bytes(count: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


class Progress:
    """A bar redrawn in place on a TTY; a line every few seconds in CI logs."""

    def __init__(self, out: Output, label: str, total: int, unit: str) -> None:
        self.out = out
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self.last_line = self.started

    def _text(self) -> str:
        if self.unit == "bytes":
            amount = f"{human_bytes(self.done)} / {human_bytes(self.total)}"
        else:
            amount = f"{self.done}/{self.total} {self.unit}".rstrip()
        pct = 100 * self.done / self.total if self.total else 100.0
        return f"{self.label}: {amount} ({pct:.0f}%)"

    def advance(self, amount: int = 1) -> None:
        """Record progress and redraw when it is time."""
        self.done += amount
        now = time.monotonic()
        if self.out.quiet:
            return
        if self.out.is_tty:
            width = 24
            filled = int(width * self.done / self.total) if self.total else width
            self.out.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self._text()}")
            self.out.stderr.flush()
        elif now - self.last_line >= PROGRESS_INTERVAL:
            self.last_line = now
            self.out.info(self._text())

    def close(self) -> None:
        """Finish the bar (TTY) or print the final line (CI) when work took a while."""
        if self.out.quiet:
            return
        if self.out.is_tty:
            self.out.stderr.write("\n")
            self.out.stderr.flush()
        elif time.monotonic() - self.started >= PROGRESS_INTERVAL:
            self.out.info(self._text())
