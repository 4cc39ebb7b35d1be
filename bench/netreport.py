"""The README sections of issue #16: the network tables, monorepo scale, the long history, and
the targets of #16 (rendered by report.render from what run.py measured)."""

from __future__ import annotations

import statistics
from typing import Any

from harness import CLI, OURS, STEPS, Sample
from report import NA, fmt_bytes, fmt_rss, fmt_s, ratio

SEQ_TARGET = 0.5  # whole sequence and 2,000-file upload: at most 0.5x sentry-cli
RERUN_RT_PER_PROJECT = 3  # unchanged re-run: at most 3 round trips per project for upload
SINGLE_TARGET = 1.5  # new, finalize, deploy under the runner profile
HELP_TARGET = 0.1
RSS_TARGET_MIB = 200
HISTORY_TARGET = 2.0
GATE_MARKER = "<!-- gate-simulation: the gate helper adds its section here -->"

NET_HEADER = (
    "| step | ours wall | sentry-cli wall | ratio | ours CPU | sentry-cli CPU | ours req "
    "| sentry-cli req | ours conn / RT | sentry-cli conn / RT | ours up / down "
    "| sentry-cli up / down |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


class NetCell:
    """Medians over rounds of one tool's figures for one row (ok samples only)."""

    def __init__(self, samples: list[Sample]) -> None:
        ok = [s for s in samples if s.status == "ok"]
        self.ok = bool(samples) and len(ok) == len(samples)
        self.status = "ok" if self.ok else ("failed" if samples else NA)

        def med(key: str) -> float | None:
            return statistics.median(getattr(s, key) for s in ok) if ok and self.ok else None

        self.wall = med("wall")
        self.cpu = med("cpu")
        self.requests = med("requests")
        self.connections = med("connections")
        self.exchanges = med("exchanges")
        self.up = med("bytes_up")
        self.down = med("bytes_down")
        self.rss = max(s.rss_kb for s in ok) if ok and self.ok else None

    @classmethod
    def summed(cls, samples: list[Sample], steps: tuple[str, ...]) -> NetCell:
        """The per-round sum over `steps` (a whole sequence), medians over rounds."""
        rounds = sorted({s.round for s in samples})
        merged = []
        for k in rounds:
            chosen = [s for s in samples if s.round == k and s.step in steps]
            if not chosen:
                continue
            status = "ok" if all(s.status == "ok" for s in chosen) else "failed"
            merged.append(
                Sample(
                    tool=chosen[0].tool,
                    step="sequence",
                    round=k,
                    phase=chosen[0].phase,
                    status=status,
                    wall=sum(s.wall for s in chosen),
                    cpu=sum(s.cpu for s in chosen),
                    rss_kb=max(s.rss_kb for s in chosen),
                    requests=sum(s.requests for s in chosen),
                    connections=sum(s.connections for s in chosen),
                    exchanges=sum(s.exchanges for s in chosen),
                    bytes_up=sum(s.bytes_up for s in chosen),
                    bytes_down=sum(s.bytes_down for s in chosen),
                )
            )
        return cls(merged)

    def cols(self) -> tuple[str, str, str, str, str]:
        """wall, requests, conn / RT, up / down, CPU."""
        if not self.ok:
            return (self.status,) * 5
        return (
            fmt_s(self.wall),
            f"{self.requests:.0f}",
            f"{self.connections:.0f} / {self.exchanges:.0f}",
            f"{fmt_bytes(self.up)} / {fmt_bytes(self.down)}",
            fmt_s(self.cpu),
        )


def _pick(samples: list[Sample], phase: str, tool: str, step: str | None = None) -> list[Sample]:
    return [
        s
        for s in samples
        if s.phase == phase and s.tool == tool and (step is None or s.step == step)
    ]


def _row(name: str, ours: NetCell, cli: NetCell, bold: bool = False) -> str:
    o, c = ours.cols(), cli.cols()
    b = "**" if bold else ""
    return (
        f"| {b}{name}{b} | {b}{o[0]}{b} | {b}{c[0]}{b} | {b}{ratio(ours.wall, cli.wall)}{b} | "
        f"{o[4]} | {c[4]} | {o[1]} | {c[1]} | {o[2]} | {c[2]} | {o[3]} | {c[3]} |"
    )


def net_table(samples: list[Sample]) -> str:
    """Steps, the sequence as separate commands, re-run, and ours as one `run`."""
    lines = [NET_HEADER]
    for phase, prefix in (("first", ""), ("rerun", "re-run: ")):
        for step in STEPS:
            lines.append(
                _row(
                    prefix + step,
                    NetCell(_pick(samples, phase, OURS, step)),
                    NetCell(_pick(samples, phase, CLI, step)),
                )
            )
        lines.append(
            _row(
                prefix + "whole sequence (separate commands)",
                NetCell.summed(_pick(samples, phase, OURS), STEPS),
                NetCell.summed(_pick(samples, phase, CLI), STEPS),
                bold=True,
            )
        )
    for phase, seq_phase, name in (
        ("one-command", "first", "ours `run` (one process) vs sentry-cli's separate commands"),
        ("one-command-rerun", "rerun", "re-run: ours `run` vs sentry-cli's separate commands"),
    ):
        run = [s for s in samples if s.phase == phase]
        if run:
            lines.append(
                _row(
                    f"*{name}*",
                    NetCell(run),
                    NetCell.summed(_pick(samples, seq_phase, CLI), STEPS),
                )
            )
    return "\n".join(lines)


def selfcheck_line(selfchecks: list[dict[str, Any]]) -> str:
    """What the proxy measured of itself at its starts (medians)."""
    checks = [c.get("selfcheck") or {} for c in selfchecks]
    checks = [c for c in checks if c]
    if not checks:
        return "proxy self-check: n/a"

    def med(key: str) -> float:
        return statistics.median(float(c[key]) for c in checks)

    first = checks[0]
    return (
        f"Proxy self-check (median of {len(checks)} starts): RTT {med('rtt_ms'):.1f} ms "
        f"(expected {first['rtt_expected_ms']:g}), first exchange of a new connection "
        f"{med('first_exchange_ms'):.0f} ms (expected {first['first_exchange_expected_ms']:g}: "
        f"handshake + 1 RTT), throughput up {med('up_mbit'):.0f} / down "
        f"{med('down_mbit'):.0f} Mbit/s (expected {first['expected_mbit']})."
    )


def network_section(net_results: list[dict[str, Any]]) -> str:
    """One table per (profile, size)."""
    if not net_results:
        return ""
    parts = [
        "Both tools talk to the stand-in through the shaping proxy (`bench/netem_proxy.py`); "
        "the stand-in hands out the proxy's URL for chunk uploads and pagination links, so "
        "every byte of both tools crosses the emulated network. **req**: requests the "
        "stand-in served; **conn / RT**: TCP connections opened and request/response "
        "exchanges (round trips) counted at the proxy, summed over parallel connections; "
        "**CPU**: user+sys of the process tree (on a loaded machine, wall minus what the "
        "network explains is mostly waiting for a core); "
        "**up / down**: bytes through the proxy each way, headers included. Wall: median "
        "over rounds; counts: median."
    ]
    for result in net_results:
        f = result["fixture"]
        describe = (result["selfchecks"][0].get("describe") if result["selfchecks"] else "") or ""
        parts.append(
            f"### {result['network']} ({describe}): {f.size.name}, {f.size.files} bundle(s) "
            f"({fmt_bytes(f.bytes_on_disk)}), {f.size.commits} commits, {result['rounds']} "
            f"round(s)\n\n{selfcheck_line(result['selfchecks'])}\n\n{net_table(result['samples'])}"
        )
        bad = [
            f"- {s.tool} {s.phase} {s.step}: {s.note}"
            for s in result["samples"]
            if s.status != "ok"
        ]
        if bad:
            parts.append("Steps that failed:\n\n" + "\n".join(bad[:12]))
    return "\n\n".join(parts)


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**MISSED**")


def targets16(context: dict[str, Any]) -> list[str]:
    """The targets of #16, one line each."""
    lines = []
    for result in context.get("net_results", []):
        samples: list[Sample] = result["samples"]
        net, size = result["network"], result["fixture"].size.name
        ours = NetCell.summed(_pick(samples, "first", OURS), STEPS)
        cli = NetCell.summed(_pick(samples, "first", CLI), STEPS)
        run = NetCell([s for s in samples if s.phase == "one-command"])
        for label, a in (("separate commands", ours), ("one `run`", run)):
            r = a.wall / cli.wall if a.wall is not None and cli.wall else None
            lines.append(
                f"- {net}, {size}, whole sequence as {label} at most {SEQ_TARGET}x sentry-cli's "
                f"separate commands: {ratio(a.wall, cli.wall)} ({fmt_s(a.wall)} vs "
                f"{fmt_s(cli.wall)}): {_verdict(None if r is None else r <= SEQ_TARGET)}"
            )
        if result["fixture"].size.files >= 2000:
            up_o = NetCell(_pick(samples, "first", OURS, "upload"))
            up_c = NetCell(_pick(samples, "first", CLI, "upload"))
            r = up_o.wall / up_c.wall if up_o.wall is not None and up_c.wall else None
            lines.append(
                f"- {net}, upload of {result['fixture'].size.files} bundles at most "
                f"{SEQ_TARGET}x: {ratio(up_o.wall, up_c.wall)} ({fmt_s(up_o.wall)} vs "
                f"{fmt_s(up_c.wall)}): {_verdict(None if r is None else r <= SEQ_TARGET)}"
            )
        re_o = NetCell(_pick(samples, "rerun", OURS, "upload"))
        re_c = NetCell(_pick(samples, "rerun", CLI, "upload"))
        met = None if re_o.exchanges is None else re_o.exchanges <= RERUN_RT_PER_PROJECT
        lines.append(
            f"- {net}, {size}, unchanged re-run: upload in at most {RERUN_RT_PER_PROJECT} round "
            f"trips per project (1 project): ours {_n(re_o.exchanges)} (sentry-cli "
            f"{_n(re_c.exchanges)}): "
            f"{_verdict(met)}"
        )
    runner = [r for r in context.get("net_results", []) if r["network"] == "runner"]
    if runner:
        pooled = [s for r in runner for s in r["samples"] if s.phase == "first"]
        for step in ("new", "finalize", "deploy"):
            o = NetCell(_pick(pooled, "first", OURS, step))
            c = NetCell(_pick(pooled, "first", CLI, step))
            r = o.wall / c.wall if o.wall is not None and c.wall else None
            lines.append(
                f"- runner, `{step}` as a separate command within {SINGLE_TARGET}x sentry-cli: "
                f"{ratio(o.wall, c.wall)} ({fmt_s(o.wall)} vs {fmt_s(c.wall)}, all sizes "
                f"pooled): {_verdict(None if r is None else r <= SINGLE_TARGET)}"
            )
    help_stats = context.get("help") or {}
    if help_stats:
        h = help_stats["ours_median"]
        lines.append(
            f"- `sentry-release --help` under {HELP_TARGET} s: {h:.3f} s median: "
            f"{_verdict(h < HELP_TARGET)}"
        )
    mono = context.get("monorepo")
    if mono:
        rss = (mono.get("ours") or {}).get("run_rss_kb")
        cli_rss = (mono.get(CLI) or {}).get("max_rss_kb")
        lines.append(
            f"- Monorepo ({mono['describe']}): peak RSS under {RSS_TARGET_MIB} MiB: ours "
            f"{fmt_rss(rss)} (sentry-cli {fmt_rss(cli_rss)}): "
            f"{_verdict(None if rss is None else rss / 1024 < RSS_TARGET_MIB)}"
        )
    hist = context.get("history")
    if hist:
        full = (hist.get("cases") or {}).get("full") or {}
        o = (full.get(OURS) or {}).get("wall")
        c = (full.get(CLI) or {}).get("wall")
        lines.append(
            f"- {hist['commits']:,}-commit history, previous release {hist['back']:,} back, "
            f"associated in under {HISTORY_TARGET} s: ours {fmt_s(o)} (sentry-cli "
            f"{fmt_s(c)}): {_verdict(None if o is None else o < HISTORY_TARGET)}"
        )
    return lines


def _n(value: float | None) -> str:
    return NA if value is None else f"{value:.0f}"


def monorepo_section(mono: dict[str, Any] | None) -> str:
    """10 projects x 500 bundles in one run, both tools."""
    if not mono:
        return ""
    lines = [
        f"{mono['projects']} projects x {mono['bundles']} bundles ({mono['js_files']} JS + maps, "
        f"{fmt_bytes(mono['bytes'])}) under {mono['describe']}; generated in "
        f"{mono['generate_s']:.0f} s (cached in `{mono['cache']}`). Ours: one `sentry-release "
        "run` with every project and directory; sentry-cli: its separate commands with the "
        "same projects and directories (`-p` repeated). Peak RSS is the largest process of "
        "the tree (`wait4`).",
        "",
        "| tool | step | wall | CPU | peak RSS | req | conn / RT | up / down | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for tool in (OURS, CLI):
        for step in mono.get(tool, {}).get("steps", []):
            lines.append(
                f"| {tool} | {step['step']} | {fmt_s(step['wall'])} | {fmt_s(step.get('cpu'))} | "
                f"{fmt_rss(step['rss_kb'])} "
                f"| {step['requests']} | {step['connections']} / {step['exchanges']} | "
                f"{fmt_bytes(step['bytes_up'])} / {fmt_bytes(step['bytes_down'])} | "
                f"{step['status']}{(': ' + step['note']) if step.get('note') else ''} |"
            )
    return "\n".join(lines)


def history_section(hist: dict[str, Any] | None) -> str:
    """Associating commits from a long history, full and shallow clone."""
    if not hist:
        return ""
    lines = [
        f"A linear history of {hist['commits']:,} commits (generated in "
        f"{hist['generate_s']:.0f} s, "
        f"cached in `{hist['cache']}`), the previous release's last commit {hist['back']:,} "
        f"commits behind HEAD, under {hist['describe']}. Each tool: `set-commits` of a new "
        "release in local mode (no `--initial-depth`, so the range is found from the previous "
        "release), in a fresh org seeded with that previous release.",
        "",
        "| clone | tool | wall | CPU | commits on the release | req | conn / RT | up | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case, label in (("full", "full"), ("shallow", f"shallow (`--depth {hist['depth']}`)")):
        for tool in (OURS, CLI):
            r = (hist.get("cases") or {}).get(case, {}).get(tool)
            if not r:
                continue
            lines.append(
                f"| {label} | {tool} | {fmt_s(r['wall'])} | {fmt_s(r.get('cpu'))} | {r['commits']} "
                f"| {r['requests']} | "
                f"{r['connections']} / {r['exchanges']} | {fmt_bytes(r['bytes_up'])} | "
                f"{r['status']}{(': ' + r['note']) if r.get('note') else ''} |"
            )
    return "\n".join(lines)


def waits_section(waits: dict[str, Any] | None) -> str:
    """Our steps' timelines under the recorder (bench/waits.py)."""
    if not waits:
        return ""
    body = "\n\n".join(v["text"] for v in waits["steps"].values())
    return (
        f"Each of our steps once more, {waits['size']} fixture, under {waits['describe']}, "
        "with `bench/waits.py` recording every request (main thread or worker), new "
        "connection and sleep, and `-X importtime` summing the imports of the whole command. "
        "`local` is the main thread's time between two requests (git, hashing, zipping, "
        "imports of the command's modules, or waiting on workers). Under `-X importtime` and "
        "the recorder, times are inflated; read the shape.\n\n```\n" + body + "\n```"
    )
