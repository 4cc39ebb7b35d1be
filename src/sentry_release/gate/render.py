"""The gate's report rendered three ways, as pure functions of a `GateReport`: a JSON-ready
dict (`--json`, the action's outputs), terminal lines and tables, and Markdown for the
GitHub job summary (with a Mermaid `xychart-beta` chart of the error rate per minute)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from typing import Any

from sentry_release.gate.models import iso
from sentry_release.gate.policy import FAIL, INCONCLUSIVE, PASS, GateReport, IssueRow
from sentry_release.output import Output, md_cell

ICONS = {PASS: "✅", FAIL: "❌", INCONCLUSIVE: "⚠️"}
STATUS_TAIL = re.compile(r"; \d+s left$")


def gate_status(line: str) -> str | None:
    """The state of one of the watch loop's waiting lines ("Deploy gate: 0 issue(s), ...;
    41s left") without its countdown, for `Output.live`; None for any other line."""
    if line.startswith("Deploy gate: ") and STATUS_TAIL.search(line):
        return STATUS_TAIL.sub("", line)
    return None


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) or math.isnan(value) else value


def issue_dict(row: IssueRow) -> dict[str, Any]:
    """One issue as the JSON report shows it."""
    issue = row.issue
    return {
        "id": issue.id,
        "shortId": issue.short_id,
        "title": issue.title,
        "level": issue.level,
        "kind": issue.kind,
        "rule": row.rule,
        "events": issue.events,
        "users": issue.users,
        "unhandled": issue.unhandled,
        "status": issue.status,
        "substatus": issue.substatus,
        "firstSeen": iso(issue.first_seen) if issue.first_seen else None,
        "permalink": issue.permalink,
        "counted": row.counted,
        "severe": row.severe,
        "why": row.why,
        "suspect_commit": asdict(row.suspect) if row.suspect else None,
    }


def report_dict(report: GateReport) -> dict[str, Any]:
    """The report as one JSON-ready object."""
    rate: dict[str, Any] | None = None
    if report.rate is not None:
        test = report.rate.test
        rate = {
            "verdict": report.rate.verdict,
            "reason": report.rate.reason,
            "unit": report.rate.unit,
            "mode": report.rate.mode,
            "excess": report.rate.excess,
            "project": report.rate.project or None,
            "more_minutes": report.rate.more_minutes,
            "projects": [
                {"project": r.project, "verdict": r.verdict, "reason": r.reason, "unit": r.unit}
                for r in report.rate.projects
            ],
        }
        if test is not None:
            rate.update(
                new_errors=test.new,
                new_exposure=test.new_exposure,
                base_errors=test.base,
                base_exposure=test.base_exposure,
                ratio=_finite(test.ratio),
                e_value=_finite(test.e_value),
                lower=_finite(test.lower),
                upper=_finite(test.upper),
                dispersion=test.phi,
                buckets=test.buckets,
            )
    return {
        "verdict": report.verdict,
        "reason": report.reason,
        "version": report.version,
        "environment": report.environment,
        "rules": [asdict(r) for r in report.rules],
        "new_issues": [issue_dict(r) for r in report.issues],
        "rate": rate,
        "health": [asdict(p) for p in report.probes],
        "outcomes": (
            {**asdict(report.outcomes), "dropped": report.outcomes.dropped}
            if report.outcomes
            else None
        ),
        "rollback_hint": report.rollback_hint,
        "observed_verdict": report.observed_verdict,
        "api_error": report.api_error,
        **{k: v for k, v in report.context.items() if k not in ("version", "environment")},
    }


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.3g}"
    return str(value)


def _rate_figures(report: GateReport) -> str:
    """The rate test's figures in one line ("" without a test)."""
    test = report.rate.test if report.rate is not None else None
    if test is None:
        return ""
    return (
        f"ratio {_num(test.ratio)}, bounds {_num(test.lower)}-{_num(test.upper)}, "
        f"e-value {_num(test.e_value)}, dispersion {_num(test.phi)}, {test.buckets} bucket(s)"
    )


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], top: float) -> str:
    """One character per bucket, scaled to `top` (so two series share one scale)."""
    last = len(SPARKS) - 1
    return "".join(
        SPARKS[min(last, round(last * (v or 0.0) / top))] if top > 0 else SPARKS[0] for v in values
    )


def sparkline_line(report: GateReport) -> str:
    """The chart of the job summary as one terminal line: the new release's errored units
    per 100 per bucket beside the baseline's, on one scale ("" without chart data)."""
    data = report.context.get("chart") or {}
    new: list[float | None] = list(data.get("new") or [])
    base: list[float | None] = list(data.get("base") or [])
    if not new:
        return ""
    top = max([v for v in new + base if v is not None] + [0.0])
    unit = (report.rate.unit if report.rate else None) or "units"

    def mean(series: list[float | None]) -> str:
        seen = [v for v in series if v is not None]
        return _num(sum(seen) / len(seen)) if seen else "n/a"

    shown = f"{report.version} {sparkline(new, top)} {mean(new)}"
    if base:
        shown += f" | baseline {sparkline(base, top)} {mean(base)}"
    return f"Errored {unit} per 100, per bucket: {shown}"


def print_report(out: Output, report: GateReport, *, json_output: bool = False) -> None:
    """The report on stdout: JSON with `--json`, else a few lines and tables."""
    if json_output:
        out.result(json.dumps(report_dict(report), indent=2, default=str))
        return
    out.result(f"Deploy gate: {report.verdict}")
    out.result(f"Reason: {report.reason}")
    if report.version:
        base = report.rollback_hint or report.context.get("baseline", {}).get("release")
        out.result(
            f"Release {report.version} in {report.environment}; "
            f"baseline release: {base or 'none found'}"
        )
    passed = [r.name for r in report.rules if r.verdict == PASS and not r.report_only]
    for rule in report.rules:
        if rule.name not in passed:
            name = rule.name + (" (report-only)" if rule.report_only else "")
            out.result(f"  {rule.verdict}  {name}: {rule.reason[:100]}")
    if passed:
        out.result(f"  passed: {', '.join(passed)}")
    if report.issues:
        out.table(
            ["issue", "kind", "level", "events", "users", "counted", "suspect", "title", "link"],
            [
                [
                    r.issue.short_id,
                    r.issue.kind,
                    r.issue.level + (" unhandled" if r.issue.unhandled else ""),
                    str(r.issue.events),
                    str(r.issue.users),
                    "yes" if r.counted else "no",
                    r.suspect.commit[:12] if r.suspect else "",
                    r.issue.title[:60],
                    r.issue.permalink or "",
                ]
                for r in report.issues
            ],
        )
    for row in report.issues:
        if row.suspect is not None:
            suspect = row.suspect
            out.result(
                f"Suspect commit of {row.issue.short_id}: {suspect.commit[:12]} "
                f"{suspect.message}" + (f" ({suspect.author})" if suspect.author else "")
            )
    figures = _rate_figures(report)
    if figures:
        out.result(f"Rate: {figures}")
    line = sparkline_line(report)
    if line:
        out.result(line)
    if report.outcomes is not None and report.outcomes.dropped:
        out.result(f"Sentry dropped {report.outcomes.dropped} error event(s) in the window")
    if report.probes:
        out.result("Health probes:")
        out.table(
            ["url", "attempts", "healthy", "last"],
            [[p.url, str(p.attempts), "yes" if p.healthy else "no", p.last] for p in report.probes],
        )
    if report.rollback_hint and report.verdict == FAIL:
        out.result(f"Rollback hint: {report.rollback_hint}")


def chart(report: GateReport) -> list[str]:
    """Mermaid xychart-beta charts of errored units per 100 units of traffic per bucket: one
    chart per series (the new release, then its baseline) on the same axes, since a chart
    of two lines has no legend; the x axis counts minutes from the window start, the last
    label marks the decision."""
    data = report.context.get("chart") or {}
    new = [v for v in data.get("new") or []]
    base = [v for v in data.get("base") or []]
    if not new:
        return []
    minutes = float(data.get("bucket") or 60.0) / 60.0
    labels = [f"+{i * minutes:g}" for i in range(len(new))]
    labels[-1] = f"{labels[-1]} {report.verdict}"
    labels[0] = f"{labels[0]} deploy+grace"
    top = max([v for v in new + base if v is not None] + [0.1]) * 1.2
    unit = (report.rate.unit if report.rate else None) or "units"
    baseline = report.context.get("baseline_release") or "baseline"
    lines: list[str] = []
    for name, series in ((f"{report.version} (new)", new), (f"{baseline} (baseline)", base)):
        if not series:
            continue
        lines += [
            "```mermaid",
            "xychart-beta",
            f'  title "Errored {unit} per 100 {unit}: {name}"',
            "  x-axis [" + ", ".join(f'"{label}"' for label in labels[: len(series)]) + "]",
            f'  y-axis "per 100 {unit}" 0 --> {top:.3g}',
            "  line [" + ", ".join(_num(v if v is not None else 0.0) for v in series) + "]",
            "```",
            "",
        ]
    return lines


def rate_table(report: GateReport) -> list[str]:
    """The rate rule's figures as a short Markdown table (new release beside its baseline)."""
    rate = report.rate
    if rate is None:
        return []
    lines = [f"**Error rate ({rate.unit or 'no unit'}, {rate.mode}):** {md_cell(rate.reason)}", ""]
    test = rate.test
    if test is None:
        return lines
    unit = rate.unit or "units"

    def per100(errors: float, exposure: float | None) -> str:
        return _num(100 * errors / exposure) if exposure else "n/a"

    return [
        *lines,
        "| | New release | Baseline |",
        "|---|---:|---:|",
        f"| Errored {unit} | {_num(test.new)} | {_num(test.base)} |",
        f"| {unit.capitalize()} | {_num(test.new_exposure)} | {_num(test.base_exposure)} |",
        f"| Per 100 {unit} | {per100(test.new, test.new_exposure)} "
        f"| {per100(test.base, test.base_exposure)} |",
        f"| Ratio (bounds) | {_num(test.ratio)} ({_num(test.lower)} to {_num(test.upper)}) | |",
        f"| e-value, dispersion, buckets | {_num(test.e_value)}, {_num(test.phi)}, "
        f"{test.buckets} | |",
        "",
    ]


def render_markdown(report: GateReport) -> str:
    """The report as Markdown for the GitHub job summary."""
    lines = [
        f"### {ICONS.get(report.verdict, '')} Deploy gate: {report.verdict}".replace("  ", " "),
        "",
        f"**Reason:** {md_cell(report.reason)}",
        "",
    ]
    links = report.context.get("links") or {}
    if report.version:
        release = (
            f"[`{report.version}`]({links['release']})"
            if links.get("release")
            else (f"`{report.version}`")
        )
        base = report.context.get("baseline", {}).get("release") or "none found"
        lines += [f"Release {release} in `{report.environment}`; baseline release: `{base}`", ""]
    if report.api_error:
        lines += [f"Sentry could not be read: `{md_cell(report.api_error)}`", ""]
    if report.rules:
        lines += ["| Rule | Verdict | Reason |", "|---|---|---|"]
        lines += [
            f"| {r.name}{' (report-only)' if r.report_only else ''} | {r.verdict} "
            f"| {md_cell(r.reason)} |"
            for r in report.rules
        ]
        lines.append("")
    if report.issues:
        lines += [
            "| Issue | Kind | Level | Events | Users | First seen | Counted | Suspect commit "
            "| Title |",
            "|---|---|---|---:|---:|---|---|---|---|",
        ]
        for row in report.issues:
            issue = row.issue
            link = f"[{issue.short_id}]({issue.permalink})" if issue.permalink else issue.short_id
            level = issue.level + (" (unhandled)" if issue.unhandled else "")
            counted = "yes" if row.counted else "no: " + md_cell(row.why)
            suspect = (
                f"`{row.suspect.commit[:12]}` {md_cell(row.suspect.message)}" if row.suspect else ""
            )
            seen = iso(issue.first_seen) if issue.first_seen else ""
            lines.append(
                f"| {link} | {issue.kind} | {level} | {issue.events} | {issue.users} | {seen} "
                f"| {counted} | {suspect} | {md_cell(issue.title)} |"
            )
        lines.append("")
    elif report.rules:
        lines += ["No new, regressed or escalating issues.", ""]
    lines += rate_table(report)
    lines += chart(report)
    if report.outcomes is not None and report.outcomes.dropped:
        lines += [
            f"Sentry dropped {report.outcomes.dropped} error event(s) in the window "
            f"({report.outcomes.rate_limited} rate-limited): the gate could not see them.",
            "",
        ]
    if report.probes:
        lines += ["| Health URL | Attempts | Healthy | Last |", "|---|---:|---|---|"]
        lines += [
            f"| {md_cell(p.url)} | {p.attempts} | {'yes' if p.healthy else 'no'} "
            f"| {md_cell(p.last)} |"
            for p in report.probes
        ]
        lines.append("")
    if report.rollback_hint and report.verdict == FAIL:
        lines += [f"Rollback hint: `{report.rollback_hint}` (the release that served before)", ""]
    return "\n".join(lines)
