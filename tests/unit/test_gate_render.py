"""The gate's report as people read it: in the job summary one chart per series (a chart of
two lines has no legend), the rate's figures as a short table, the rollback hint only on FAIL;
on the terminal the failing rules as lines, the passed ones on one line, a sparkline chart."""

from __future__ import annotations

import io
from dataclasses import replace

from sentry_release.gate.policy import FAIL, PASS, GateReport, RateInput, evaluate
from sentry_release.gate.render import print_report, render_markdown, sparkline_line
from sentry_release.gate.sequential import Bucket
from sentry_release.output import Output
from tests.unit.test_gate import POLICY, issue, obs

CHART = {"bucket": 60.0, "new": [3.0] * 6, "base": [1.0] * 6}


def report(regressed: bool) -> GateReport:
    errors = 30 if regressed else 10
    rate = RateInput(
        "sessions", "previous", (Bucket(errors, 1000, 10, 1000),) * 6, baseline_release="old"
    )
    issues = (issue(title="KeyError: a"),) if regressed else ()
    done = evaluate(obs(rate=rate, issues=issues), POLICY)
    context = {"chart": CHART, "baseline_release": "old", "baseline": {"release": "old"}}
    return replace(done, context=context)


def test_one_chart_per_series_each_titled_with_its_release() -> None:
    text = render_markdown(report(True))
    charts = text.split("```mermaid")[1:]
    assert len(charts) == 2
    assert 'title "Errored sessions per 100 sessions: new (new)"' in charts[0]
    assert 'title "Errored sessions per 100 sessions: old (baseline)"' in charts[1]
    assert all(chart.count("  line [") == 1 for chart in charts)
    axes = {line for chart in charts for line in chart.splitlines() if "y-axis" in line}
    assert len(axes) == 1  # the same scale, so the two can be compared


def test_the_rate_details_are_a_short_table() -> None:
    text = render_markdown(report(True))
    assert "| | New release | Baseline |" in text
    assert "| Errored sessions | 180 | 60 |" in text
    assert "| Sessions | 6000 | 6000 |" in text
    assert "| Per 100 sessions | 3 | 1 |" in text
    assert "| Ratio (bounds) | 3 (" in text
    assert "| e-value, dispersion, buckets | " in text
    assert "\nratio 3, bounds" not in text  # the old run-on paragraph is gone


def test_the_rollback_hint_shows_on_fail_only() -> None:
    failed, passed = report(True), report(False)
    assert failed.verdict == FAIL and passed.verdict == PASS
    assert "Rollback hint: `old`" in render_markdown(failed)
    assert "Rollback hint" not in render_markdown(passed)


def test_the_terminal_report_lists_failing_rules_and_draws_a_sparkline() -> None:
    stdout = io.StringIO()
    print_report(Output(stdout=stdout, stderr=io.StringIO()), report(True))
    lines = stdout.getvalue().splitlines()
    assert lines[0] == "Deploy gate: FAIL"
    assert any(line.startswith("  FAIL  new-issues: ") for line in lines)
    assert any(line.startswith("  passed: ") and "health" in line for line in lines)
    assert not any(line.startswith("rule ") for line in lines)  # no table of passing rules
    spark = sparkline_line(report(True))
    assert spark == "Errored sessions per 100, per bucket: new ██████ 3 | baseline ▃▃▃▃▃▃ 1"
    assert spark in lines
