"""Turn samples into the README: per-size tables, the sequence row, targets, machine, profiles."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

from harness import CLI, OURS, STEPS, Sample

MEMORY_FACTOR = 2  # upload may hold at most 2x the bundle bytes above start-up ...
MEMORY_SLACK = 32 * 2**20  # ... plus the modules upload imports that `new` does not


def upload_memory(samples: list[Sample]) -> tuple[float, float] | None:
    """(our upload's peak RSS, our `new`'s RSS) in bytes."""
    upload = [
        s.rss_kb
        for s in samples
        if s.tool == OURS and s.step == "upload" and s.phase == "first" and s.ok_status()
    ]
    base = [
        s.rss_kb
        for s in samples
        if s.tool == OURS and s.step == "new" and s.phase == "first" and s.ok_status()
    ]
    if not upload or not base:
        return None
    return max(upload) * 1024.0, min(base) * 1024.0


HERE = Path(__file__).resolve().parent
NOTES = HERE / "NOTES.md"
NA = "n/a"


def fmt_s(value: float | None) -> str:
    """Seconds, 3 significant-ish digits."""
    if value is None:
        return NA
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def fmt_bytes(value: float | None) -> str:
    """Bytes in B/KB/MB (decimal)."""
    if value is None:
        return NA
    if value < 1_000:
        return f"{value:.0f} B"
    if value < 1_000_000:
        return f"{value / 1e3:.1f} KB"
    return f"{value / 1e6:.1f} MB"


def fmt_rss(kb: float | None) -> str:
    """Peak RSS from KiB."""
    return NA if kb is None else f"{kb / 1024:.0f} MiB"


def ratio(a: float | None, b: float | None) -> str:
    """ours / sentry-cli."""
    if a is None or not b:
        return NA
    return f"{a / b:.2f}x"


class Cell:
    """One tool's figures for one row (medians over rounds; peak RSS is the max)."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.ok = bool(samples) and all(s.status == "ok" for s in samples)
        self.status = "ok" if self.ok else _worst(samples)
        self.note = next((s.note for s in samples if s.status != "ok"), "")
        ok = [s for s in samples if s.status == "ok"] if self.ok else []
        self.wall = statistics.median(s.wall for s in ok) if ok else None
        self.cpu = statistics.median(s.cpu for s in ok) if ok else None
        self.rss = max(s.rss_kb for s in ok) if ok else None
        self.body = statistics.median(s.body_bytes for s in ok) if ok else None
        self.chunks = statistics.median(s.chunk_bytes for s in ok) if ok else None

    def label(self) -> str:
        """What to print instead of numbers when the step did not run."""
        if self.status == NA:
            return "n/a (stand-in)" if "stand-in" in self.note else "n/a (not implemented)"
        return "failed" if self.status == "failed" else NA


def _worst(samples: list[Sample]) -> str:
    statuses = {s.status for s in samples}
    return "failed" if "failed" in statuses else (NA if NA in statuses else "ok")


def cells(samples: list[Sample], phase: str, step: str) -> tuple[Cell, Cell]:
    """(ours, sentry-cli) for one row."""
    pick = [s for s in samples if s.phase == phase and s.step == step]
    return Cell([s for s in pick if s.tool == OURS]), Cell([s for s in pick if s.tool == CLI])


class Sequence:
    """The whole sequence per round (sum of steps), over the steps both tools completed."""

    def __init__(self, samples: list[Sample], phase: str) -> None:
        pick = [s for s in samples if s.phase == phase]
        both_ok = [step for step in STEPS if all(c.ok for c in cells(samples, phase, step))]
        self.steps = both_ok
        self.complete = len(both_ok) == len(STEPS)
        self.tools: dict[str, dict[str, float | None]] = {}
        for tool in (OURS, CLI):
            rounds = sorted({s.round for s in pick if s.tool == tool})
            per_round = []
            for k in rounds:
                chosen = [s for s in pick if s.tool == tool and s.round == k and s.step in both_ok]
                if chosen:
                    per_round.append(
                        (
                            sum(s.wall for s in chosen),
                            sum(s.cpu for s in chosen),
                            max(s.rss_kb for s in chosen),
                            sum(s.body_bytes for s in chosen),
                            sum(s.chunk_bytes for s in chosen),
                        )
                    )
            if per_round:
                self.tools[tool] = {
                    "wall": statistics.median(r[0] for r in per_round),
                    "cpu": statistics.median(r[1] for r in per_round),
                    "rss": max(r[2] for r in per_round),
                    "body": statistics.median(r[3] for r in per_round),
                    "chunks": statistics.median(r[4] for r in per_round),
                }
            else:
                self.tools[tool] = {
                    "wall": None,
                    "cpu": None,
                    "rss": None,
                    "body": None,
                    "chunks": None,
                }

    def wall_ratio(self) -> float | None:
        """ours / sentry-cli over the compared steps."""
        ours, cli = self.tools[OURS]["wall"], self.tools[CLI]["wall"]
        return ours / cli if ours is not None and cli else None


HEADER = (
    "| step | ours wall | sentry-cli wall | wall ratio | ours CPU | sentry-cli CPU | CPU ratio "
    "| ours peak RSS | sentry-cli peak RSS | ours sent | sentry-cli sent |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _sent(body: float | None, chunks: float | None, show_chunks: bool) -> str:
    if body is None:
        return NA
    text = fmt_bytes(body)
    if show_chunks:
        text += f" (chunks {fmt_bytes(chunks)})"
    return text


def _row(name: str, ours: Cell, cli: Cell, show_chunks: bool) -> str:
    def side(cell: Cell) -> tuple[str, str, str, str]:
        if not cell.ok:
            label = cell.label()
            return label, label, label, label
        return (
            fmt_s(cell.wall),
            fmt_s(cell.cpu),
            fmt_rss(cell.rss),
            _sent(cell.body, cell.chunks, show_chunks),
        )

    ow, oc, orss, osent = side(ours)
    cw, cc, crss, csent = side(cli)
    return (
        f"| {name} | {ow} | {cw} | {ratio(ours.wall, cli.wall)} | {oc} | {cc} | "
        f"{ratio(ours.cpu, cli.cpu)} | {orss} | {crss} | {osent} | {csent} |"
    )


def _seq_row(name: str, seq: Sequence) -> str:
    o, c = seq.tools[OURS], seq.tools[CLI]
    label = (
        name
        if seq.complete
        else f"{name} ({len(seq.steps)}/{len(STEPS)} steps: {', '.join(seq.steps) or 'none'})"
    )
    return (
        f"| **{label}** | **{fmt_s(o['wall'])}** | **{fmt_s(c['wall'])}** | "
        f"**{ratio(o['wall'], c['wall'])}** | {fmt_s(o['cpu'])} | {fmt_s(c['cpu'])} | "
        f"{ratio(o['cpu'], c['cpu'])} | {fmt_rss(o['rss'])} | {fmt_rss(c['rss'])} | "
        f"{_sent(o['body'], o['chunks'], True)} | {_sent(c['body'], c['chunks'], True)} |"
    )


def size_table(result: dict[str, Any]) -> str:
    """The table of one size: six steps, the sequence, then the re-run rows."""
    samples: list[Sample] = result["samples"]
    lines = [HEADER]
    for step in STEPS:
        lines.append(_row(step, *cells(samples, "first", step), show_chunks=step == "upload"))
    lines.append(_seq_row("whole sequence", Sequence(samples, "first")))
    for step in STEPS:
        lines.append(
            _row(f"re-run: {step}", *cells(samples, "rerun", step), show_chunks=step == "upload")
        )
    lines.append(_seq_row("re-run: whole sequence", Sequence(samples, "rerun")))
    for phase, seq_phase, name in (
        ("one-command", "first", "ours `run` (one process) vs sentry-cli sequence"),
        ("one-command-rerun", "rerun", "re-run: ours `run` vs sentry-cli sequence"),
    ):
        run = Cell([s for s in samples if s.phase == phase])
        if run.samples:
            lines.append(_one_command_row(name, run, Sequence(samples, seq_phase)))
    return "\n".join(lines)


def _one_command_row(name: str, run: Cell, seq: Sequence) -> str:
    c = seq.tools[CLI]
    if not run.ok:
        label = run.label()
        ours = (label, label, label, label)
    else:
        ours = (
            fmt_s(run.wall),
            fmt_s(run.cpu),
            fmt_rss(run.rss),
            _sent(run.body, run.chunks, True),
        )
    cli_wall = c["wall"] if seq.complete else None
    cli_cpu = c["cpu"] if seq.complete else None
    cli = (
        (fmt_s(c["wall"]), fmt_s(c["cpu"]), fmt_rss(c["rss"]), _sent(c["body"], c["chunks"], True))
        if seq.complete
        else ("n/a (sequence incomplete)",) * 4
    )
    return (
        f"| *{name}* | {ours[0]} | {cli[0]} | {ratio(run.wall, cli_wall)} | {ours[1]} | "
        f"{cli[1]} | {ratio(run.cpu, cli_cpu)} | {ours[2]} | {cli[2]} | {ours[3]} | "
        f"{cli[3]} |"
    )


def checks_text(result: dict[str, Any]) -> str:
    """What each tool left on the stand-in after the first pass (read back over the API)."""
    rows = {}
    for check in result.get("checks", []):
        rows.setdefault(check["tool"], check)  # round 0 stands for all; differences listed
    lines = [
        f"Read back from the stand-in after the first pass (expected "
        f"{result['fixture'].size.commits} commits, HEAD {result['fixture'].head[:12]}):"
    ]
    for tool, check in rows.items():
        others = [
            c
            for c in result.get("checks", [])
            if c["tool"] == tool
            and (c["commits"], c["last_commit"]) != (check["commits"], check["last_commit"])
        ]
        lines.append(
            f"- {tool}: {check['commits']} commits, last commit {check['last_commit'] or '-'}, "
            f"{'finalized' if check['finalized'] else 'not finalized'}, "
            f"{check['deploys']} deploy(s)"
            + (f" (differs in {len(others)} other round(s))" if others else "")
            + (f" — read failed: {check['error']}" if check["error"] else "")
        )
    return "\n".join(lines)


def _notes_for(samples: list[Sample]) -> list[str]:
    seen: dict[tuple[str, str], str] = {}
    for s in samples:
        if s.status != "ok" and (s.tool, s.step) not in seen:
            seen[(s.tool, s.step)] = s.note
    return [f"- {tool} `{step}`: {note}" for (tool, step), note in seen.items()]


def targets(results: list[dict[str, Any]], context: dict[str, Any]) -> list[str]:
    """Each target, met / missed / not measurable yet."""
    lines = []
    limit = context["sequence_target"]
    for result in results:
        name = result["fixture"].size.name
        if name not in ("medium", "large"):
            continue
        seq = Sequence(result["samples"], "first")
        value = seq.wall_ratio()
        if value is None:
            verdict = "not measurable yet"
        elif not seq.complete:
            verdict = (
                f"{value:.2f}x over the {len(seq.steps)} steps both tools completed "
                "(not the whole sequence yet)"
            )
        else:
            verdict = f"{value:.2f}x: {'met' if value <= limit else 'MISSED'}"
        lines.append(f"- Whole sequence at most {limit}x sentry-cli on {name}: {verdict}")
        run = Cell([s for s in result["samples"] if s.phase == "one-command"])
        cli_wall = seq.tools[CLI]["wall"]
        if run.samples and run.ok and seq.complete and cli_wall:
            lines.append(
                f"  - the same work as one `sentry-release run` (how the action runs it): "
                f"{run.wall / cli_wall:.2f}x"
                if run.wall is not None
                else "  - `sentry-release run`: n/a"
            )
    for result in results:
        name = result["fixture"].size.name
        rerun = [
            s
            for s in result["samples"]
            if s.phase == "rerun" and s.step == "upload" and s.tool == OURS
        ]
        if not rerun or any(s.status != "ok" for s in rerun):
            verdict = "not measurable yet (our upload is not implemented)"
        else:
            sent = max(s.chunk_bytes for s in rerun)
            verdict = f"{fmt_bytes(sent)} of chunks: {'met' if sent == 0 else 'MISSED'}"
        lines.append(f"- Re-run uploads 0 chunk bytes ({name}): {verdict}")
    for result in results:
        name = result["fixture"].size.name
        measured = upload_memory(result["samples"])
        if measured is None:
            continue
        peak, base = measured
        size = result["fixture"].bytes_on_disk
        cli = [
            s.rss_kb
            for s in result["samples"]
            if s.tool == CLI and s.step == "upload" and s.phase == "first" and s.ok_status()
        ]
        grown = (peak - base) / size if size else 0.0
        verdict = "met" if peak - base <= MEMORY_FACTOR * size + MEMORY_SLACK else "MISSED"
        lines.append(
            f"- Peak memory bounded, upload ({name}): {peak / 2**20:.0f} MiB peak RSS, "
            f"{grown:.1f}x the {fmt_bytes(size)} of bundles above start-up (bound: "
            f"{MEMORY_FACTOR}x + {MEMORY_SLACK // 2**20} MiB); "
            f"sentry-cli {max(cli) / 1024 if cli else 0:.0f} MiB: {verdict}"
        )
    help_ = context["help"]
    med = help_["ours_median"]
    lines.append(
        f"- `sentry-release --help` under {context['help_target']} s: "
        f"{med:.3f} s median of {len(help_['ours_runs'])}: "
        f"{'met' if med < context['help_target'] else 'MISSED'}"
    )
    return lines


def current_rev() -> str:
    """The commit being measured (saved with the results, so a re-render keeps it)."""
    return subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def machine(context: dict[str, Any]) -> list[str]:
    """nproc, CPU model, RAM, Python, tool versions, load."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        ram = "unknown"
    tools = context["tools"]
    cli_version = subprocess.run(
        [tools.cli, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    git_version = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    rev = context.get("rev") or current_rev()
    from sentry_release import __version__

    before, after = context["load_before"], context["load_after"]
    return [
        f"- Date: {context['started']:%Y-%m-%d %H:%M} UTC; total bench time "
        f"{context['elapsed']:.0f} s",
        f"- Machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {cpu}, "
        f"{ram} RAM, {platform.system()} {platform.release()}",
        f"- Load average (1/5/15 min): {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f} at the "
        f"start, {after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f} at the end",
        f"- Python {platform.python_version()}; sentry-release {__version__} (commit {rev}); "
        f"{cli_version} (PyPI binary); {git_version}",
        f"- Command: `{context['command'].strip()}`",
    ]


def help_section(context: dict[str, Any]) -> str:
    """--help timing and the import-time top entries."""
    h = context["help"]
    lines = [
        f"`sentry-release --help`: median {h['ours_median'] * 1000:.0f} ms over "
        f"{len(h['ours_runs'])} runs (target under {context['help_target'] * 1000:.0f} ms); "
        f"`sentry-cli --help`: {h['cli_median'] * 1000:.0f} ms.",
        "",
        f"`python -X importtime -c 'import sentry_release.cli'`: "
        f"{h['import_total_us'] / 1000:.1f} ms for sentry_release.cli and everything it pulls in. "
        f"Heavy modules loaded by the import: {h['heavy_loaded'] or 'none'} "
        "(requests, urllib3, GitPython and ssl must not be among them).",
        "",
        "Start-up floor of a Python process on this machine (median of 5 runs each) — every "
        "one of our steps pays the interpreter plus requests, sentry-cli pays ~10 ms:",
        "",
        "| what | wall |",
        "|---|---:|",
        *[f"| `{label}` | {fmt_s(value)} |" for label, value in h["floor"].items()],
        "",
        "| cumulative | self | module |",
        "|---:|---:|---|",
    ]
    for cumulative, own, depth, name in h["import_top"]:
        lines.append(
            f"| {cumulative / 1000:.1f} ms | {own / 1000:.1f} ms | "
            f"{'&nbsp;' * 2 * max(depth, 0)}{name} |"
        )
    return "\n".join(lines)


def tables_only(results: list[dict[str, Any]], context: dict[str, Any]) -> str:
    """The tables and targets, for the terminal."""
    parts = []
    for result in results:
        f = result["fixture"]
        parts.append(
            f"## {f.size.name}: {f.size.files} bundle(s), "
            f"{fmt_bytes(f.bytes_on_disk)}, {f.size.commits} commits, "
            f"{result['rounds']} round(s)\n\n{size_table(result)}"
        )
    parts.append("## Targets\n\n" + "\n".join(targets(results, context)))
    return "\n\n".join(parts)


METHOD = """\
How each figure is taken (`bench/harness.py`):

- **Fixtures** (`bench/fixtures.py`, cached in `bench/.work/`, deterministic): a repository of
  N commits built by one `git fast-import` stream (`bench/git_fixture.py`: fixed authors incl.
  non-ASCII names, fixed dates, 1-8 files touched per commit with adds/edits/deletes/renames, a
  merge every 50 commits) and N minified JS bundles, each with a `//# sourceMappingURL` and a v3
  map (`sources`, `sourcesContent`, `names`, VLQ `mappings`). Bundle generator used:
  {generator}. (The bench's own `bench/js_fixture.py`, used when the other is absent, also
  spreads sizes like a real build and makes every mapping decode to the right original token.)
- **The stand-in** runs in its own process (`bench/standin.py`: `sentry_standin` plus two
  bench-only endpoints, one that sums request bodies by Content-Length, one that adds orgs). A
  fresh one per round: its chunk store is global, so a deterministic bundle from an earlier round
  would otherwise be deduplicated.
- **Per round** each tool gets a fresh org (so there is no previous release and
  `set-commits --local --initial-depth N` sends all N commits, the same work for both) and its own
  copy of the bundles (inject rewrites them). Steps alternate between the tools and the tool that
  goes first alternates between rounds. Then the same sequence runs again on unchanged inputs
  (same release, same injected files): the **re-run** rows. Last, ours runs the same work as
  one command, `sentry-release run V --mode local --initial-depth N --sourcemaps DIR --wait
  --env production` (what the GitHub Action runs), in its own org and stand-in, twice: the
  *italic* rows, compared with sentry-cli's six commands. After the first pass the release is
  read back over the API (commit count, last commit, finalized, deploys) for each tool.
- **Commands**: ours `new V`, `set-commits V --mode local --initial-depth N`, `inject DIR`,
  `upload-sourcemaps V DIR --wait`, `finalize V`, `deploy V --env production`; sentry-cli
  `releases new V`, `releases set-commits V --local --initial-depth N`, `sourcemaps inject DIR`,
  `sourcemaps upload --release V --wait DIR`, `releases finalize V`,
  `deploys new -r V -e production`.
- **Start-up**: our package is byte-compiled first (`compileall`, as `pip install` does), so an
  editable install does not recompile its modules on every run.
- **wall**: spawn to reap, median over rounds. **CPU**: user+sys from `os.wait4` of the child,
  including the children it reaped (our git processes count). **peak RSS**: `ru_maxrss` from
  `wait4`, the largest single process of the tree, max over rounds. **sent**: request body bytes
  the stand-in received during the step (Content-Length; headers not counted), chunk-upload
  POSTs shown separately. **ratio**: ours / sentry-cli (below 1 means we are faster).
- **whole sequence**: the per-round sum of the six steps, median over rounds. When a step could
  not run for one tool, the row sums only the steps both tools completed and says which.
- "n/a (not implemented)": our side of that step is not built yet (it raises NotImplementedError);
  "n/a (stand-in)": the stand-in does not serve that endpoint yet, so neither tool can do the step.
- **Noise**: the machine has few cores shared with other work (test runs, builds); the stand-in
  also runs on it and is part of every step's wall time. Figures from a busy machine are noisy,
  more so for the sub-second steps; read ratios of steps under ~0.3 s with care and compare the
  load averages above. The ratios matter more than the absolute times.
"""


def render(results: list[dict[str, Any]], context: dict[str, Any]) -> str:
    """The whole README."""
    generator = results[0]["fixture"].generator if results else "n/a"
    parts = [
        "# Benchmarks: sentry-release vs sentry-cli",
        "_Generated by `python bench/run.py` — do not edit by hand; notes live in "
        "`bench/NOTES.md` and are included below._",
        "Regenerate: `python bench/run.py [--sizes small,medium,large] [--rounds N] "
        "[--large-rounds N] [--out bench/README.md]`; smoke run: `python bench/run.py --quick` "
        "(small, 1 round, writes `bench/.work/README.quick.md`); re-render this file from saved "
        "results (kept locally, git-ignored) after editing `bench/NOTES.md`: "
        "`python bench/run.py --render "
        "bench/results/<run>.json`. Never run as a test; nothing asserts on timings.",
    ]
    if context.get("quick"):
        parts.append("**This is a --quick smoke run (small size, 1 round): not a measurement.**")
    parts.append("## Machine\n\n" + "\n".join(machine(context)))
    parts.append("## Targets\n\n" + "\n".join(targets(results, context)))
    for result in results:
        f = result["fixture"]
        parts.append(
            f"## {f.size.name}: {f.size.files} bundle(s) ({f.js_files} JS + maps, "
            f"{fmt_bytes(f.bytes_on_disk)}), {f.size.commits} commits, {result['rounds']} "
            f"round(s)\n\n{size_table(result)}"
        )
        parts.append(checks_text(result))
        notes = _notes_for(result["samples"])
        if notes:
            parts.append("Steps that did not run:\n\n" + "\n".join(notes))
    parts.append("## CLI start-up\n\n" + help_section(context))
    profiles = [
        (r["fixture"].size.name, step, text)
        for r in results
        for step, text in r["profiles"].items()
        # small has no targets; finalize and deploy profile like new (start-up bound)
        if r["fixture"].size.name != "small" and step not in ("finalize", "deploy")
    ]
    if profiles:
        body = [
            "Our steps that missed the target (slower than "
            f"{context['sequence_target']}x sentry-cli, or re-run sending chunk bytes), "
            "profiled with cProfile in one extra run (main thread only: time spent waiting "
            "on worker threads or on git shows up as lock/read waits). `finalize` and `deploy` "
            "are left out: they profile like `new` (start-up bound, see above); small has no "
            "targets:"
        ]
        for size, step, text in profiles:
            body.append(f"### {size}: {step}\n\n```\n{text}\n```")
        parts.append("## Profiles\n\n" + "\n\n".join(body))
    if NOTES.is_file():
        parts.append("## Findings\n\n" + NOTES.read_text(encoding="utf-8").strip())
    parts.append("## Method\n\n" + METHOD.format(generator=generator))
    return "\n\n".join(parts) + "\n"
