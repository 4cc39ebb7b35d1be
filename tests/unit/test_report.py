"""report: the action's outputs and job summary, the result lines and the --json objects,
from typed step results."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sentry_release import report
from sentry_release.config.settings import DeployOptions, Settings
from sentry_release.errors import ConfigError, GateFailed
from sentry_release.gate.policy import GateReport, IssueRow
from sentry_release.sentry.gate_models import Issue
from sentry_release.sentry.models import Deploy
from sentry_release.sourcemaps.inject import InjectedFile, InjectResult
from sentry_release.sourcemaps.upload import UploadResult
from sentry_release.steps.commits import Association, CommitsResult
from sentry_release.steps.deploy import DeployResult
from sentry_release.steps.pipeline import PipelineResult
from sentry_release.steps.release import ReleaseResult


def issue(**fields: object) -> Issue:
    """A new issue of the gate's report, with neutral values for what a test leaves out."""
    base: dict[str, object] = {
        "id": "1",
        "short_id": "",
        "title": "",
        "level": "error",
        "status": "unresolved",
        "substatus": "new",
        "unhandled": False,
        "events": 5,
        "users": 1,
        "first_seen": None,
        "last_seen": None,
        "permalink": None,
        "project_id": "1",
        "project_slug": "web",
    }
    return Issue(**{**base, **fields})  # type: ignore[arg-type]


def full_result() -> PipelineResult:
    result = PipelineResult("web@1.2.3", "git tag at HEAD")
    result.release = ReleaseResult("web@1.2.3", True, ("web", "api"), {})
    result.commits = CommitsResult(
        "local",
        (
            Association("acme/web", "local", "a" * 40, "b" * 40, 7),
            Association("acme/lib", "refs", None, "c" * 40, 3),
        ),
        ("shallow clone: fetched 20 commits",),
    )
    result.injected = InjectResult(
        (
            InjectedFile(Path("dist/a.js"), "id-1", Path("dist/a.js.map"), True),
            InjectedFile(Path("dist/b.js"), "id-2", None, False),
        )
    )
    result.upload = UploadResult(("bundle-1", "bundle-2"), 12, 3 * 1024 * 1024, 1024, ())
    result.finalized = True
    result.deploy = DeployResult(
        Deploy(
            id="77",
            environment="production",
            name="blue",
            url="https://example.com",
            date_finished="2026-01-01T00:00:00Z",
        ),
        True,
    )
    result.gate = GateReport(
        "FAIL",
        "2 new issues (max 0)",
        issues=(
            IssueRow(
                issue(
                    short_id="WEB-1",
                    title="TypeError: x | y",
                    permalink="https://s/1",
                    events=12,
                    users=4,
                    unhandled=True,
                    first_seen=datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc),
                ),
                True,
                True,
                "",
            ),
            IssueRow(issue(id="99", short_id="99", title="ZeroDivisionError"), True, False, ""),
            # new, but below the floors: shown, not counted
            IssueRow(
                issue(id="100", short_id="100", title="Noise", events=1),
                False,
                False,
                "1 event < min_events 3",
            ),
        ),
        context={"baseline_release": "web@1.2.2"},
    )
    return result


def test_summary_shows_every_step_a_person_looks_for() -> None:
    settings = Settings(url="https://sentry.example.com/", org="acme", projects=("web", "api"))
    state = report.RunState("web@1.2.3", "git tag at HEAD", settings, full_result())
    state.error = GateFailed("deploy gate failed: 2 new issues (max 0)")
    state.failed_step = None
    md = report.render_summary(state)
    link = "https://sentry.example.com/organizations/acme/releases/web%401.2.3/"
    assert md.startswith(f"## ❌ Sentry release [`web@1.2.3`]({link})")
    assert "| Release | created |" in md and "| Finalized | yes |" in md
    assert "### Commits (10)" in md
    assert f"| `acme/web` | local | `{'a' * 12}` | `{'b' * 12}` | 7 |" in md
    assert "| `acme/lib` | refs | (first release) |" in md
    assert "shallow clone: fetched 20 commits" in md
    assert "| Debug IDs injected | 1 new, 1 already present |" in md
    assert "| Files uploaded | 12 |" in md and "3.0 MiB" in md
    assert "`bundle-1`, `bundle-2`" in md
    assert "| Environment | `production` |" in md and "| Deploy id | 77 |" in md
    assert "### ❌ Deploy gate: FAIL" in md
    assert (
        "| [WEB-1](https://s/1) | new | error (unhandled) | 12 | 4 | 2026-01-01T00:01:00Z "
        "| yes |  | TypeError: x \\| y |" in md
    )
    assert "| 99 | new | error | 5 | 1 |" in md
    assert "Rollback hint: `web@1.2.2`" in md
    assert "### ❌ Deploy gate failed" not in md  # the gate section says it, once


def test_summary_of_a_failed_step_keeps_what_was_done() -> None:
    settings = Settings(url="https://sentry.io/", org="acme", projects=("web",))
    partial = PipelineResult("1.0", "explicit")
    partial.release = ReleaseResult("1.0", False, ("web",), {})
    from sentry_release.errors import SentryAPIError

    state = report.RunState("1.0", "explicit", settings, partial, failed_step="Finalize release")
    state.error = SentryAPIError("Sentry answered 500 on PUT: boom")
    md = report.render_summary(state)
    assert "| Failed step | **Finalize release** |" in md
    assert "| Release | already existed |" in md and "| Finalized | no |" in md
    assert "### ❌ Sentry API error" in md and "> Sentry answered 500 on PUT: boom" in md
    assert "### Deploy" not in md and "### Commits" not in md
    outputs = report.outputs_for(state)
    assert outputs == {
        "release": "1.0",
        "version": "1.0",
        "commits": "",
        "bundle_ids": "",
        "deploy_id": "",
        "gate_verdict": "",
        "new_issues": "",
        "rollback_hint": "",
    }


def test_outputs_from_a_full_result() -> None:
    state = report.RunState("web@1.2.3", "tag", None, full_result())
    assert report.outputs_for(state) == {
        "release": "web@1.2.3",
        "version": "web@1.2.3",
        "commits": "10",
        "bundle_ids": "bundle-1 bundle-2",
        "deploy_id": "77",
        "gate_verdict": "FAIL",
        "new_issues": "2",  # counted ones: the third is below the floors
        "rollback_hint": "web@1.2.2",
    }
    assert tuple(report.outputs_for(state)) == report.OUTPUT_NAMES


def test_summary_without_a_version_still_says_what_failed() -> None:
    state = report.RunState(error=ConfigError("finalize must be true or false, got 'maybe'"))
    md = report.render_summary(state)
    assert md.startswith("## ❌ Sentry release\n")
    assert "### ❌ Invalid configuration" in md and "got 'maybe'" in md


def test_new_issues_output_counts_only_the_counted_ones() -> None:
    """action.yml: "Number of new issues the gate counted" (not every new issue seen)."""
    result = full_result()
    assert result.gate is not None and len(result.gate.issues) == 3
    assert report.counted_new_issues(result.gate) == 2
    data = report.pipeline_json(result)
    assert data["new_issues"] == 2 and data["gate_verdict"] == "FAIL"


def test_step_lines_name_what_each_step_did() -> None:
    settings = Settings(deploy=DeployOptions(environment="production"))
    result = full_result()
    result.steps = ["Create release"]
    assert report.step_line(result, settings) == "Created release web@1.2.3 (web, api)"
    result.steps.append("Record deploy")
    line = report.step_line(result, settings)
    assert line == "Recorded deploy 77 of web@1.2.3 to production"
    result.steps.append("Associate commits")  # says its own lines
    assert report.step_line(result, settings) is None


def test_pipeline_json_is_plain_json() -> None:
    data = report.pipeline_json(full_result())
    again = json.loads(json.dumps(data))  # no Path, datetime or dataclass left
    assert again["result"]["injected"]["files"][0]["path"] == "dist/a.js"
    assert again["bundle_ids"] == ["bundle-1", "bundle-2"]
    assert again["commits"] == 10 and again["deploy_id"] == "77"
