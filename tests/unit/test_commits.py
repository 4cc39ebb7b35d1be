"""The pure parts of set-commits: specs, URL matching, payload limits, the range table."""

from __future__ import annotations

import pytest

from sentry_release.errors import ConfigError
from sentry_release.git import LogCommit
from sentry_release.sentry.models import Repo
from sentry_release.steps.commits import (
    Association,
    RefSpec,
    commit_payload,
    describe_range,
    identity_urls,
    match_repo,
    normalize_url,
    parse_spec,
    repo_name_from_url,
)

SHA1 = "a" * 40
SHA2 = "b" * 40


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (f"acme/web@{SHA1}", RefSpec("acme/web", SHA1)),
        (f"acme/web@{SHA1}..{SHA2}", RefSpec("acme/web", SHA2, SHA1)),
        ("acme/web@v1.0..v2.0", RefSpec("acme/web", "v2.0", "v1.0")),
        (f" acme/web@{SHA1} ", RefSpec("acme/web", SHA1)),
    ],
)
def test_parse_spec(spec: str, expected: RefSpec) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["acme/web", "acme/web@", "@abc", f"acme/web@..{SHA1}", ""])
def test_parse_spec_rejects_with_the_fix(spec: str) -> None:
    with pytest.raises(ConfigError, match="owner/repo@SHA"):
        parse_spec(spec)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Acme/Web",
        "https://github.com/acme/web.git",
        "https://github.com/acme/web/",
        "http://token@github.com/acme/web.git",
        "git@github.com:acme/web.git",
        "github.com:Acme/web",
        "ssh://git@github.com/acme/web.git",
        "ssh://git@github.com:22/acme/web",
        "git://github.com/acme/web.git",
    ],
)
def test_normalize_url_equates_remote_spellings(url: str) -> None:
    assert normalize_url(url) == "github.com/acme/web"


def test_normalize_url_keeps_hosts_and_paths_apart() -> None:
    assert normalize_url("https://gitlab.com/acme/web") != normalize_url(
        "https://github.com/acme/web"
    )
    assert normalize_url("file:///srv/git/web.git") == normalize_url("/srv/git/web")
    assert normalize_url("") is None
    assert normalize_url("not a url") is None


def test_repo_name_from_url_keeps_case() -> None:
    assert repo_name_from_url("git@github.com:Acme/Web.git") == "Acme/Web"
    assert repo_name_from_url("https://github.example.com/acme/web/") == "acme/web"
    assert repo_name_from_url(None) is None


REPOS = [
    Repo("acme/api", "https://github.com/acme/api", "integrations:github"),
    Repo("acme/web", "https://github.com/acme/web", "integrations:github"),
    Repo("origin", None, "unknown"),
]


def test_match_repo_by_remote_url() -> None:
    matched = match_repo(REPOS, ["git@github.com:acme/web.git"])
    assert matched is not None and matched.name == "acme/web"
    assert match_repo(REPOS, ["git@github.com:acme/other.git"]) is None
    assert match_repo(REPOS, []) is None


def test_match_repo_ignores_repos_without_an_integration() -> None:
    fake = [Repo("acme/web", "https://github.com/acme/web", "unknown")]
    assert match_repo(fake, ["https://github.com/acme/web"]) is None


def test_identity_prefers_github_repository_then_remote() -> None:
    environ = {"GITHUB_REPOSITORY": "acme/web", "GITHUB_SERVER_URL": "https://ghe.example.com"}
    urls = identity_urls("file:///tmp/checkout", environ)
    assert urls == ["https://ghe.example.com/acme/web", "file:///tmp/checkout"]
    assert identity_urls(None, {"GITHUB_REPOSITORY": "acme/web"}) == ["https://github.com/acme/web"]
    ghe = [Repo("acme/web", "https://GHE.example.com/acme/web", "integrations:github_enterprise")]
    assert match_repo(ghe, urls) is ghe[0]


def _commit(**overrides: object) -> LogCommit:
    values: dict[str, object] = {
        "sha": SHA1,
        "parents": (),
        "author_name": "Ada",
        "author_email": "ada@example.com",
        "timestamp": "2024-01-01T10:00:00+01:00",
        "message": "fix\n",
        "changes": (("M", "a.py"),),
    }
    values.update(overrides)
    return LogCommit(**values)  # type: ignore[arg-type]


def test_commit_payload_shape() -> None:
    warnings: list[str] = []
    assert commit_payload(_commit(), "acme/web", warnings) == {
        "id": SHA1,
        "repository": "acme/web",
        "author_name": "Ada",
        "author_email": "ada@example.com",
        "timestamp": "2024-01-01T10:00:00+01:00",
        "message": "fix\n",
        "patch_set": [{"path": "a.py", "type": "M"}],
    }
    assert warnings == []


def test_commit_payload_stays_within_sentrys_limits() -> None:
    warnings: list[str] = []
    payload = commit_payload(
        _commit(
            author_name="n" * 300,
            author_email="e" * 70 + "@example.com",
            changes=(("A", "p" * 600), ("A", "ok.py")),
        ),
        "acme/web",
        warnings,
    )
    assert len(payload["author_name"]) == 128
    assert "author_email" not in payload
    assert payload["patch_set"] == [{"path": "ok.py", "type": "A"}]
    assert len(warnings) == 2


def test_describe_range() -> None:
    assert describe_range(Association("r", "local", SHA1, SHA2, 3)) == "aaaaaaaaaaaa..bbbbbbbbbbbb"
    assert describe_range(Association("r", "local", None, SHA2, 3)) == "..bbbbbbbbbbbb"
    assert describe_range(Association("r", "refs", None, SHA2, 0)) == "bbbbbbbbbbbb"
