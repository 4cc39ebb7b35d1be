"""The release-name rule's hint: when the watched release is silent but the environment has
traffic, which of the releases that did report is the same commit under another name, and the
fix. The usual cause (#26): on `pull_request` this tool names the release after the PR's head
sha, as `sentry-cli releases propose-version` does, while a build that used `github.sha`
reports the merge commit GitHub built; or the SDK reports a shortened sha, or one with
another prefix (`web@abc1234` vs `abc1234…`).

Pure functions but `build_shas` (reads the event file); the gate calls `hint` once, where it
reports that the release had no data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sentry_release.version import parse_event, pull_request_head

# A commit sha as a release name carries it: 7 to 40 hex digits standing alone. A run of
# digits only is a date or a build number unless it is a full sha.
HEX_RUN = re.compile(r"(?<![0-9a-f])[0-9a-f]{7,40}(?![0-9a-f])")
MIN_SHA = 7  # git's shortest abbreviation by default (core.abbrev)


def shas_in(name: str) -> tuple[str, ...]:
    """The commit shas a release name holds (lower case)."""
    runs = HEX_RUN.findall(name.lower())
    return tuple(r for r in runs if len(r) == 40 or not r.isdigit())


def _same(a: str, b: str) -> bool:
    """One sha is the other or an abbreviation of it."""
    return len(a) >= MIN_SHA and len(b) >= MIN_SHA and (a.startswith(b) or b.startswith(a))


def commit_shas(environ: Mapping[str, str], event_text: str | None) -> tuple[str, ...]:
    """The shas GitHub gives for this build's commit: GITHUB_SHA (on pull_request the merge
    commit), the PR's head sha and its `merge_commit_sha`. Any of them names the same change."""
    event = parse_event(event_text)
    found = [environ.get("GITHUB_SHA", ""), pull_request_head(event) or ""]
    pull = event.get("pull_request") if event else None
    if isinstance(pull, dict):
        found.append(str(pull.get("merge_commit_sha") or ""))
    return tuple(dict.fromkeys(s.lower() for s in found if s))


def build_shas(environ: Mapping[str, str]) -> tuple[str, ...]:
    """`commit_shas` of this job (GITHUB_SHA and the event file GITHUB_EVENT_PATH names)."""
    text = None
    if environ.get("GITHUB_EVENT_PATH"):
        try:
            text = Path(environ["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
    return commit_shas(environ, text)


def hint(version: str, others: Sequence[str], pair: Iterable[str] = ()) -> str | None:
    """The sentence naming the release of the same commit among `others`, with the fix;
    None when none is. `pair` are the build's shas (`commit_shas`): when the watched release
    names one of them, a release naming another is the same commit."""
    mine = shas_in(version)
    pair = tuple(pair)
    family = set(mine)
    if any(_same(m, p) for m in mine for p in pair):
        family.update(pair)
    for other in others:
        if other == version:
            continue
        for sha in shas_in(other):
            match = next((f for f in family if _same(sha, f)), None)
            if match is None:
                continue
            return (
                f"{other} is the same commit as {version} ({_why(sha, match, mine)}): the "
                "build gave the SDK another name than this release; name the release before "
                "the build (the action's command: propose-version, or sentry-release "
                "propose-version --export github) and set the SDK's release from "
                "SENTRY_RELEASE, not from github.sha"
            )
    return None


def _why(sha: str, match: str, mine: Sequence[str]) -> str:
    if any(_same(sha, m) for m in mine):
        return "the same sha, abbreviated" if sha not in mine else "the same sha, another prefix"
    return "the pull request's merge commit and its head"
