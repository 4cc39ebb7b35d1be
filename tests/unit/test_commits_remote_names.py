"""A checkout's remote as set-commits reads it: the comparable form that matches Sentry's
repositories (`normalize_url`) and the `owner/repo` name local commits are filed under
(`repo_name_from_url`); and the commit payload at Sentry's exact field limits."""

from __future__ import annotations

import pytest

from sentry_release.git import LogCommit
from sentry_release.steps.commits import (
    MAX_AUTHOR_EMAIL,
    MAX_PATH,
    commit_payload,
    normalize_url,
    repo_name_from_url,
)


@pytest.mark.parametrize(
    ("url", "form"),
    [
        # a file URL is its path, whatever host it names
        ("file://localhost/srv/git/web.git", "/srv/git/web"),
        ("file:///srv/git/web.git", "/srv/git/web"),
        # a URL without a host compares as a path
        ("ssh:///srv/git/web.git", "/srv/git/web"),
        # local paths: relative, home, Windows drives in either case and separator
        ("./web", "/./web"),
        ("~/web", "/~/web"),
        ("C:\\repos\\Web", "/c:\\repos\\web"),
        ("c:/repos/web", "/c:/repos/web"),
        # the .git folder of a checkout is that checkout
        ("/srv/web/.git", "/srv/web"),
        ("/srv/BOX/.git/", "/srv/box"),
        ("https://github.com/acme/BOX", "github.com/acme/box"),
    ],
)
def test_local_and_hostless_remotes_compare_as_paths(url: str, form: str) -> None:
    assert normalize_url(url) == form


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/acme/web.git/", "acme/web"),
        ("https://github.com/acme/BOX/", "acme/BOX"),
        ("/srv/web", "srv/web"),  # a local path: its last two folders
        ("/web", None),
        ("https://github.com/", None),  # a host alone names no repository
    ],
)
def test_repo_name_from_url(url: str, name: str | None) -> None:
    assert repo_name_from_url(url) == name


def _commit(email: str, paths: tuple[str, ...]) -> LogCommit:
    return LogCommit(
        sha="c" * 40,
        parents=(),
        author_name="Ada",
        author_email=email,
        timestamp="2024-01-01T10:00:00+00:00",
        message="m\n",
        changes=tuple(("M", p) for p in paths),
    )


def test_values_at_sentrys_limits_are_sent() -> None:
    email = "e" * (MAX_AUTHOR_EMAIL - len("@x.io")) + "@x.io"
    path = "p" * MAX_PATH
    warnings: list[str] = []
    payload = commit_payload(_commit(email, (path,)), "acme/web", warnings)
    assert payload["author_email"] == email
    assert payload["patch_set"] == [{"path": path, "type": "M"}]
    assert warnings == []


def test_a_path_over_the_limit_is_left_out_with_a_warning() -> None:
    warnings: list[str] = []
    payload = commit_payload(_commit("a@x.io", ("p" * (MAX_PATH + 1),)), "acme/web", warnings)
    assert payload["patch_set"] == []
    assert warnings == [f"commit {'c' * 12}: path longer than 510 characters left out"]
