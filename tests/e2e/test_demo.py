"""`sentry-release demo` tells the story at once: a seeded stand-in, a good release that
PASSes and a bad one that FAILs (exit 3) with its suspect commit, rate and rollback hint,
on one screen; `--json` with the same types as `run --json`."""

from __future__ import annotations

import json
import os

import pytest

from sentry_release.cli import run_cli
from sentry_release.demo import BAD, BASELINE, GOOD, HISTORY
from tests.helpers import GIT_ENV


def demo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run_cli(["demo", *args], environ={**os.environ, **GIT_ENV})
    done = capsys.readouterr()
    return code, done.out, done.err


def test_demo_passes_the_good_release_and_fails_the_bad_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = demo(capsys)
    assert code == 3, err
    assert len((out + err).splitlines()) < 60
    good, bad = out.split(f"$ sentry-release run {BAD} ")
    assert f"$ sentry-release run {GOOD} " in good
    assert "Deploy gate: PASS" in good and f"baseline release: {BASELINE}" in good
    assert "Rollback hint" not in good
    assert "Deploy gate: FAIL" in bad and f"baseline release: {GOOD}" in bad
    row = next(line for line in bad.splitlines() if line.startswith("WEB-1"))
    assert "fatal unhandled" in row and "TypeError" in row
    assert "Suspect commit of WEB-1: " in bad and "cart: total from price (Demo Dev)" in bad
    assert "  FAIL  rate: error rate regressed" in bad
    assert f"Errored sessions per 100, per bucket: {BAD}" in bad
    assert f"Rollback hint: {GOOD}" in bad
    assert "gate_window: 10m" in bad  # the workflow step that runs the same
    assert "error: deploy gate failed" in err
    assert "==>" not in err  # the steps' narration stays out of the story


def test_demo_json_is_one_object_with_typed_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = demo(capsys, "--json")
    assert code == 3
    data = json.loads(out)
    good, bad = data["runs"]
    assert (good["version"], good["gate_verdict"]) == (GOOD, "PASS")
    assert (bad["version"], bad["gate_verdict"]) == (BAD, "FAIL")
    assert good["commits"] == 3 and bad["commits"] == 1  # numbers, like new_issues
    assert (good["new_issues"], bad["new_issues"]) == (0, 1)
    assert isinstance(bad["bundle_ids"], list) and bad["rollback_hint"] == GOOD
    [issue] = bad["gate"]["new_issues"]
    suspect = issue["suspect_commit"]
    assert suspect["message"] == HISTORY[-1][2]  # the commit that touched src/cart.js
    assert data["error"]["kind"] == "gate" and data["error"]["exit_code"] == 3
