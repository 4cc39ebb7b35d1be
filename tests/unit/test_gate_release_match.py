"""The release-name rule names the release of the same commit (gate/release_match.py): the
merge sha vs the PR's head sha, an abbreviated sha, another prefix; and the gate says so
when the watched release is silent (the watch loop on the stand-in, fake clock)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sentry_release.gate.policy import INCONCLUSIVE
from sentry_release.gate.release_match import build_shas, commit_shas, hint, shas_in
from sentry_release.gate.watch import run_gate
from sentry_standin import DevServer
from tests.helpers import TOKEN, FakeTime
from tests.unit.test_gate_watch import deployed, output, settings

HEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
MERGE = "f0e1d2c3b4a5968778695a4b3c2d1e0f98765432"
OTHER = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("version", "others", "pair", "named", "why"),
    [
        (HEAD, [MERGE], (MERGE, HEAD), MERGE, "merge commit and its head"),
        (MERGE, ["web@1.0", HEAD], (MERGE, HEAD), HEAD, "merge commit and its head"),
        (HEAD, [HEAD[:7]], (), HEAD[:7], "abbreviated"),
        (HEAD, [f"web@{HEAD[:12]}"], (), f"web@{HEAD[:12]}", "abbreviated"),
        (f"web@{HEAD}", [HEAD], (), HEAD, "another prefix"),
        (HEAD[:7], [HEAD], (), HEAD, "the same sha"),
        (f"web@{HEAD}", [f"web@{MERGE[:7]}"], (MERGE, HEAD), f"web@{MERGE[:7]}", "merge"),
    ],
)
def test_the_same_commit_under_another_name_is_named(
    version: str, others: list[str], pair: tuple[str, ...], named: str, why: str
) -> None:
    text = hint(version, others, pair)
    assert text is not None and text.startswith(f"{named} is the same commit as {version}")
    assert why in text and "propose-version" in text and "SENTRY_RELEASE" in text


@pytest.mark.parametrize(
    ("version", "others", "pair"),
    [
        (HEAD, [OTHER, "web@1.2.3"], ()),
        (HEAD, [MERGE], ()),  # without the build's shas a merge sha is another commit
        (HEAD, [MERGE], (MERGE, OTHER)),  # the pair is not this release's commit
        (HEAD, [HEAD[:6]], ()),  # too short to be a sha
        ("20240101", ["2024010112"], ()),  # digits: a date, not a sha
        ("web@1.2.3", ["web@1.2.4"], ()),
        (HEAD, [HEAD], ()),  # itself
    ],
)
def test_other_releases_are_not_the_same_commit(
    version: str, others: list[str], pair: tuple[str, ...]
) -> None:
    assert hint(version, others, pair) is None


def test_shas_in_a_name() -> None:
    assert shas_in(f"web@{HEAD.upper()}+build.7") == (HEAD,)
    assert shas_in("1234567") == ()
    assert shas_in("1" * 40) == ("1" * 40,)


def test_the_build_shas_are_github_sha_the_pr_head_and_its_merge_commit(tmp_path: Path) -> None:
    event = {"pull_request": {"head": {"sha": HEAD}, "merge_commit_sha": MERGE.upper()}}
    assert commit_shas({"GITHUB_SHA": MERGE}, json.dumps(event)) == (MERGE, HEAD)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    environ = {"GITHUB_SHA": OTHER, "GITHUB_EVENT_PATH": str(path)}
    assert build_shas(environ) == (OTHER, HEAD, MERGE)
    assert build_shas({"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}) == ()


def test_the_gate_names_the_merge_sha_release_the_sdk_reported(
    server: DevServer, tmp_path: Path
) -> None:
    """The release is the PR's head sha; the build used github.sha (the merge commit), so
    the SDK's events carry the merge sha: the verdict names it and says how to fix it."""
    from sentry_release.sentry.api import SentryApi
    from tests.e2e.test_gate import error_event, send_envelopes

    now = datetime.now(timezone.utc).timestamp()
    client = SentryApi(server.url, TOKEN)
    deployed(client, HEAD, now - 10)
    send_envelopes(server, [error_event(MERGE, now - 5, user=f"u{i}") for i in range(2)])
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": HEAD}}}))
    environ = {"GITHUB_SHA": MERGE, "GITHUB_EVENT_PATH": str(event)}  # the front door's
    fake = FakeTime(now)
    out, _, _ = output()
    report = run_gate(
        settings(server, grace=0.0, window=60.0, timeout=300.0),
        client,
        HEAD,
        None,
        out,
        clock=fake.clock,
        sleep=fake.sleep,
        environ=environ,
    )
    rule = next(r for r in report.rules if r.name == "release-name")
    assert rule.verdict == INCONCLUSIVE
    assert f"{MERGE} is the same commit as {HEAD}" in rule.reason
    assert "merge commit and its head" in rule.reason and "propose-version" in rule.reason
