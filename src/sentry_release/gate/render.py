"""The gate's report rendered three ways, as pure functions of a `GateReport`: a JSON-ready
dict (`--json`, the action's outputs), terminal lines and tables, and Markdown for the
GitHub job summary (with a Mermaid `xychart-beta` chart of the error rate per minute)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from sentry_release.gate.models import iso
from sentry_release.gate.policy import FAIL, INCONCLUSIVE, PASS, GateReport, IssueRow
from sentry_release.output import Output, md_cell

ICONS = {PASS: "✅", FAIL: "❌", INCONCLUSIVE: "⚠️"}


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
                {"project": r.project, "verdict": r.verdict, "reason": r.reason}
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


def _rate_lines(report: GateReport) -> list[str]:
    rate = report.rate
    if rate is None:
        return []
    test = rate.test
    line = f"rate ({rate.unit or 'no unit'}, {rate.mode}): {rate.verdict} — {rate.reason}"
    if test is None:
        return [line]
    return [
        line,
        f"ratio {_num(test.ratio)}, bounds {_num(test.lower)}-{_num(test.upper)}, "
        f"e-value {_num(test.e_value)}, dispersion {_num(test.phi)}, {test.buckets} bucket(s)",
    ]


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
    if report.rules:
        out.table(
            ["rule", "verdict", "reason"],
            [
                [r.name + (" (report-only)" if r.report_only else ""), r.verdict, r.reason[:100]]
                for r in report.rules
            ],
        )
    if report.issues:
        out.result("Issues:")
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
    for line in _rate_lines(report):
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
    """A Mermaid xychart-beta of errored units per 100 units of traffic per bucket: the new
    release (first line) against its baseline, the x axis counting minutes from the window
    start, the last label marking the decision."""
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
    return [
        "```mermaid",
        "xychart-beta",
        f'  title "Errored {unit} per 100 {unit}: {report.version} (1st line) vs baseline"',
        "  x-axis [" + ", ".join(f'"{label}"' for label in labels) + "]",
        f'  y-axis "per 100 {unit}" 0 --> {top:.3g}',
        "  line [" + ", ".join(_num(v if v is not None else 0.0) for v in new) + "]",
        "  line [" + ", ".join(_num(v if v is not None else 0.0) for v in base) + "]",
        "```",
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
    lines += [md_cell(line) for line in _rate_lines(report)]
    if report.rate is not None:
        lines.append("")
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
    if report.rollback_hint:
        lines += [f"Rollback hint: `{report.rollback_hint}` (the release that served before)", ""]
    return "\n".join(lines)
