"""Every result rendered for people and machines: the terminal's result lines, the `--json`
object, and the action's outputs and Markdown job summary. Pure text from the steps' typed
results; the front doors decide where it goes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sentry_release.config.settings import Settings
from sentry_release.errors import GateFailed, SentryReleaseError
from sentry_release.output import human_bytes, md_cell

if TYPE_CHECKING:
    from sentry_release.gate.policy import GateReport
    from sentry_release.sentry.models import Deploy, Release
    from sentry_release.sourcemaps.inject import InjectResult
    from sentry_release.steps.deploy import DeployResult
    from sentry_release.steps.pipeline import PipelineResult
    from sentry_release.steps.release import ReleaseResult

# The action's outputs (action.yml declares exactly these; a test checks).
OUTPUT_NAMES = (
    "release",
    "version",
    "commits",
    "bundle_ids",
    "deploy_id",
    "gate_verdict",
    "new_issues",
    "rollback_hint",
)


# --- terminal lines -----------------------------------------------------------------------


def release_line(result: ReleaseResult) -> str:
    """`new`'s outcome (a dry run's says what the real run would do)."""
    created = "Would create" if result.dry_run else "Created"
    verb = created if result.created else "Release already exists:"
    note = "" if result.checked else "; not checked: no auth token"
    return f"{verb} release {result.version} ({', '.join(result.projects)}{note})"


def finalized_line(version: str, *, dry_run: bool = False) -> str:
    """`finalize`'s outcome."""
    return f"{'Would finalize' if dry_run else 'Finalized'} release {version}"


def deploy_line(
    result: DeployResult, version: str, environment: str | None, *, dry_run: bool = False
) -> str:
    """`deploy`'s outcome."""
    if dry_run:
        return f"Would record a deploy of {version} to {environment}"
    return f"Recorded deploy {result.id} of {version} to {environment}"


def inject_line(result: InjectResult, *, dry_run: bool) -> str:
    """`inject`'s outcome."""
    changed = sum(1 for f in result.files if f.changed)
    verb = "Would inject" if dry_run else "Injected"
    return f"{verb} debug IDs into {changed} file(s); {len(result.files) - changed} already had one"


def step_line(result: PipelineResult, settings: Settings) -> str | None:
    """The line for the pipeline's step that just finished (None: the step says its own)."""
    if not result.steps:
        return None
    last = result.steps[-1]
    if last == "Create release" and result.release is not None:
        return release_line(result.release)
    dry_run = settings.dry_run
    if last == "Finalize release":
        return finalized_line(result.version, dry_run=dry_run)
    if last == "Record deploy" and result.deploy is not None:
        environment = settings.deploy.environment
        return deploy_line(result.deploy, result.version, environment, dry_run=dry_run)
    return None


def deploys_table(deploys: Sequence[Deploy]) -> tuple[list[str], list[list[str]]]:
    """`deploys`' table: headers and one row per deploy."""
    return (
        ["id", "environment", "name", "finished"],
        [[d.id, d.environment, d.name or "", d.date_finished or ""] for d in deploys],
    )


def release_table(rel: Release) -> tuple[list[str], list[list[str]]]:
    """`info`'s table: the release as Sentry has it, one row."""
    return (
        ["version", "created", "released", "commits", "deploys"],
        [
            [
                rel.version,
                rel.date_created or "",
                rel.date_released or "(not final)",
                str(rel.commit_count),
                str(rel.deploy_count),
            ]
        ],
    )


def counted_new_issues(gate: GateReport) -> int:
    """New issues above the noise floors: what the gate judged, and the `new_issues` output
    (action.yml: "Number of new issues the gate counted")."""
    return len(gate.new_issues)  # GateReport.new_issues holds the counted ones


# --- JSON (--json) ------------------------------------------------------------------------


def jsonable(value: object) -> object:
    """A result as plain JSON data: dataclasses as objects, paths and times as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        from sentry_release.dates import isoformat

        return isoformat(value)
    if isinstance(value, (Path, Enum)):
        return str(value)
    return value


def json_object(value: object) -> dict[str, object]:
    """A result that is a dataclass or mapping, as a JSON object."""
    data = jsonable(value)
    assert isinstance(data, dict)
    return data


def pipeline_json(result: PipelineResult) -> dict[str, object]:
    """`run --json`: the action's outputs with their JSON types (a count is a number, a
    list a list, what was not done null), then every step's result."""
    commits = result.commits.count if result.commits is not None else None
    gate = result.gate
    data: dict[str, object] = {
        "release": result.version,
        "version": result.version,
        "commits": commits,
        "bundle_ids": list(result.upload.bundle_ids) if result.upload is not None else [],
        "deploy_id": result.deploy.id if result.deploy is not None else None,
        "gate_verdict": gate.verdict if gate is not None else None,
        "new_issues": counted_new_issues(gate) if gate is not None else None,
        "rollback_hint": (gate.rollback_hint or None) if gate is not None else None,
        "steps": list(result.steps),
        "result": jsonable(result),
    }
    if gate is not None:
        from sentry_release.gate.render import report_dict

        data["gate"] = report_dict(gate)
    return data


def demo_json(runs: Sequence[PipelineResult]) -> dict[str, object]:
    """`demo --json`: each release's run, as `run --json` shows it."""
    return {"runs": [pipeline_json(run) for run in runs]}


# --- the action's outputs and job summary ------------------------------------------------


@dataclass
class RunState:
    """What the summary and outputs are made from; filled as the pipeline goes."""

    version: str | None = None
    version_source: str | None = None
    settings: Settings | None = None
    result: PipelineResult | None = None
    failed_step: str | None = None
    error: SentryReleaseError | None = None
    error_text: str | None = None
    exports: dict[str, str] = field(default_factory=dict)  # GITHUB_ENV: SENTRY_RELEASE, ...
    cancelled: str | None = None  # the signal's name when the run was cancelled


def outputs_for(state: RunState) -> dict[str, str]:
    """The action's outputs from what the run did (empty strings for what it did not do)."""
    result = state.result
    version = state.version or ""
    commits = result.commits if result else None
    upload = result.upload if result else None
    deploy = result.deploy if result else None
    gate = result.gate if result else None
    return {
        "release": version,
        "version": version,
        "commits": str(commits.count) if commits is not None and commits.count is not None else "",
        "bundle_ids": " ".join(upload.bundle_ids) if upload is not None else "",
        "deploy_id": deploy.id if deploy is not None else "",
        "gate_verdict": gate.verdict if gate is not None else "",
        "new_issues": str(counted_new_issues(gate)) if gate is not None else "",
        "rollback_hint": gate.rollback_hint if gate is not None else "",
    }


def release_link(settings: Settings | None, version: str) -> str | None:
    """The release's page in Sentry."""
    if settings is None or not settings.org:
        return None
    base = settings.url.rstrip("/")
    return f"{base}/organizations/{settings.org}/releases/{quote(version, safe='')}/"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows)
    return lines


def _short(sha: str | None) -> str:
    return sha[:12] if sha else ""


def cancelled_lines(state: RunState) -> list[str]:
    """What a cancelled run did and did not do, for the summary."""
    from sentry_release.steps.pipeline import planned_steps

    during = f" during **{state.failed_step}**" if state.failed_step else ""
    done = list(state.result.steps) if state.result is not None else []
    planned = planned_steps(state.settings) if state.settings is not None else []
    left = [step for step in planned if step not in done]
    rows = [["Done", ", ".join(done) or "nothing"], ["Not done", ", ".join(left) or "nothing"]]
    return [f"> Cancelled by {state.cancelled}{during}.", "", *_table(["", ""], rows), ""]


def render_summary(state: RunState) -> str:
    """The Markdown job summary: what a person reads instead of the log."""
    result = state.result
    settings = state.settings
    version = state.version
    lines: list[str] = []
    failed = state.error is not None or state.error_text is not None
    icon = "🛑" if state.cancelled else "❌" if failed else "✅"
    heading = f"## {icon} Sentry release"
    if version:
        link = release_link(settings, version)
        heading += f" [`{version}`]({link})" if link else f" `{version}`"
    lines += [heading + (" (cancelled)" if state.cancelled else ""), ""]
    if state.cancelled:
        lines += cancelled_lines(state)
    if settings is not None and settings.dry_run:
        lines += [
            "> **Dry run**: Sentry was read as in a real run; every write was printed "
            "to the log instead of sent.",
            "",
        ]
    facts: list[list[str]] = []
    if version and state.version_source:
        facts.append(["Release name from", state.version_source])
    if settings is not None:
        if settings.org:
            facts.append(["Organization", f"`{settings.org}`"])
        if settings.projects:
            facts.append(["Projects", ", ".join(f"`{p}`" for p in settings.projects)])
    release = result.release if result else None
    if release is not None:
        facts.append(["Release", "created" if release.created else "already existed"])
    if result is not None:
        facts.append(["Finalized", "yes" if result.finalized else "no"])
    if state.exports:
        facts.append(["Exported as", ", ".join(f"`{name}`" for name in state.exports)])
    if state.failed_step:
        facts.append(["Failed step", f"**{state.failed_step}**"])
    if facts:
        lines += _table(["", ""], facts)
        lines.append("")

    gate = result.gate if result else None
    if failed and not state.cancelled and not (isinstance(state.error, GateFailed) and gate):
        title = state.error.title if state.error is not None else "sentry-release failed"
        text = state.error_text or str(state.error)
        lines += [f"### ❌ {title}", "", f"> {md_cell(text)}", ""]

    commits = result.commits if result else None
    if commits is not None:
        shown = "fetched by Sentry" if commits.count is None else commits.count
        lines += [f"### Commits ({shown})", ""]
        if commits.associations:
            lines += _table(
                ["Repository", "Mode", "From", "To", "Commits"],
                [
                    [
                        f"`{a.repository}`",
                        a.mode,
                        f"`{_short(a.previous)}`" if a.previous else "(first release)",
                        f"`{_short(a.head)}`",
                        "fetched by Sentry" if a.count is None else str(a.count),
                    ]
                    for a in commits.associations
                ],
            )
        else:
            lines.append(f"No commits associated (mode {commits.mode}).")
        if commits.warnings:
            lines += ["", *(f"- ⚠️ {md_cell(w)}" for w in commits.warnings)]
        lines.append("")

    injected = result.injected if result else None
    upload = result.upload if result else None
    if upload is not None or injected is not None:
        lines += ["### Source maps", ""]
        rows: list[list[str]] = []
        if injected is not None:
            changed = sum(1 for f in injected.files if f.changed)
            rows.append(
                [
                    "Debug IDs injected",
                    f"{changed} new, {len(injected.files) - changed} already present",
                ]
            )
        if upload is not None:
            rows.append(["Files uploaded", str(upload.files)])
            rows.append(
                [
                    "Size",
                    f"{human_bytes(upload.bytes_total)} ({human_bytes(upload.bytes_sent)} sent, "
                    f"{human_bytes(upload.bytes_reused)} reused from earlier uploads)",
                ]
            )
            rows.append(
                ["Artifact bundles", ", ".join(f"`{b}`" for b in upload.bundle_ids) or "none"]
            )
        lines += _table(["", ""], rows)
        if upload is not None and upload.warnings:
            lines += ["", *(f"- ⚠️ {md_cell(w)}" for w in upload.warnings)]
        lines.append("")

    deploy = result.deploy if result else None
    if deploy is not None:
        record = deploy.deploy
        env = record.environment or (settings.deploy.environment if settings else "")
        lines += ["### Deploy", ""]
        rows = [["Environment", f"`{env}`"], ["Deploy id", str(deploy.id)]]
        for label, value in (
            ("Name", record.name),
            ("URL", record.url),
            ("Started", record.date_started),
            ("Finished", record.date_finished),
        ):
            if value:
                rows.append([label, value])
        lines += _table(["", ""], rows)
        lines.append("")

    if gate is not None:
        from sentry_release.gate.render import render_markdown

        section = render_markdown(gate)
        if settings is not None and settings.gate.dry_run:
            section = section.replace(
                f": {gate.verdict}", f": {gate.verdict} (dry run: not enforced)", 1
            )
        lines += [section, ""]
    return "\n".join(lines).rstrip() + "\n"
