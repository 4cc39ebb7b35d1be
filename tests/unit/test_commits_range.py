"""Where the commit range starts and how much history it needs, on real repositories.

`ensure_commit` makes the previous release's commit usable as the range start (deepening a
shallow clone in bounded steps); `fill_depth` makes a shallow clone hold the first release's
commits; `same_repository` keeps another repository's sha from starting the range.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sentry_release.config.settings import CommitOptions, Settings
from sentry_release.errors import ConfigError, GitError
from sentry_release.git import GitRepo
from sentry_release.output import Output
from sentry_release.runtime import Runtime
from sentry_release.sentry.models import Repo
from sentry_release.steps.commits import (
    Association,
    CommitsResult,
    RefSpec,
    associate_commits,
    ensure_commit,
    fill_depth,
    identity_urls,
    local_repository_name,
    parse_spec,
    report,
    same_repository,
)
from tests.e2e.test_set_commits import linear_history
from tests.helpers import commit, git, make_repo


class Lines:
    """An Output whose stdout and stderr lines the test reads back."""

    def __init__(self) -> None:
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.out = Output(stdout=self.stdout, stderr=self.stderr, is_tty=False)

    def err(self) -> list[str]:
        return self.stderr.getvalue().splitlines()


def shallow_clone(tmp_path: Path, commits: int, depth: int) -> tuple[list[str], GitRepo]:
    origin = tmp_path / "origin"
    shas = make_repo(origin, commits=commits)
    git(tmp_path, "clone", "-q", "--depth", str(depth), f"file://{origin}", "clone")
    return shas, GitRepo(tmp_path / "clone")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("acme/web", "acme/web", True),
        ("Acme/Web/", "acme/web", True),
        ("acme/web", "/Acme/Web/", True),
        ("acme/web", "acme/api", False),
        ("other/web", "acme/web", False),
        ("web", "acme/api", True),  # a checkout without a remote is named after its folder
        ("acme/web", "checkout", True),
    ],
)
def test_same_repository(a: str, b: str, same: bool) -> None:
    assert same_repository(a, b) is same


def test_a_present_ancestor_in_a_shallow_clone_needs_no_fetch(tmp_path: Path) -> None:
    shas, repo = shallow_clone(tmp_path, commits=4, depth=3)
    lines = Lines()
    assert ensure_commit(repo, shas[-2], "origin", lines.out) is None
    assert lines.err() == []


def test_a_shallow_clone_is_deepened_until_the_commit_is_there(tmp_path: Path) -> None:
    shas, repo = shallow_clone(tmp_path, commits=6, depth=1)
    lines = Lines()
    assert ensure_commit(repo, shas[1], "origin", lines.out) is None
    assert lines.err() == [
        "shallow clone: fetching 50 more commits of history from origin",
        f"found {shas[1][:12]} after deepening by 50 commits",
    ]


def test_a_commit_no_fetch_brings_is_reported_once_the_history_is_whole(tmp_path: Path) -> None:
    _, repo = shallow_clone(tmp_path, commits=3, depth=1)
    lines = Lines()
    gone = "c" * 40
    assert ensure_commit(repo, gone, "origin", lines.out) == (
        f"the previous release's commit {gone[:12]} is not in the git history"
        " even with the full history (amended, squashed or force-pushed?)"
    )
    assert lines.err() == ["shallow clone: fetching 50 more commits of history from origin"]


def test_a_failing_fetch_is_reported(tmp_path: Path) -> None:
    shas, repo = shallow_clone(tmp_path, commits=3, depth=1)
    git(repo.root, "remote", "set-url", "origin", f"file://{tmp_path}/gone")
    problem = ensure_commit(repo, shas[0], "origin", Lines().out)
    assert problem is not None
    assert problem.startswith(
        f"the previous release's commit {shas[0][:12]} is not in the git history"
        " of this shallow clone and fetching more failed ("
    )


def test_in_a_full_history_any_commit_present_starts_the_range(tmp_path: Path) -> None:
    """`git log PREV..HEAD` is well defined when PREV is on another branch: only a shallow
    clone needs PREV to be an ancestor (else the range runs to the shallow boundary)."""
    path = tmp_path / "r"
    make_repo(path, commits=2)
    git(path, "checkout", "-q", "-b", "side")
    side = commit(path, {"side.txt": "s\n"}, "side")
    git(path, "checkout", "-q", "main")
    lines = Lines()
    assert ensure_commit(GitRepo(path), side, "origin", lines.out) is None
    assert lines.err() == []


def test_fill_depth_fetches_what_the_first_release_needs(tmp_path: Path) -> None:
    _, repo = shallow_clone(tmp_path, commits=10, depth=2)
    lines = Lines()
    assert fill_depth(repo, 5, "origin", lines.out) == []
    # 3 missing, plus one past the range: its oldest commit's diff needs the parent
    assert lines.err() == ["shallow clone: fetching 4 more commits of history from origin"]
    assert repo.count(repo.head_sha, 100) == 6


def test_fill_depth_leaves_enough_history_alone(tmp_path: Path) -> None:
    _, repo = shallow_clone(tmp_path, commits=6, depth=5)
    lines = Lines()
    assert fill_depth(repo, 5, "origin", lines.out) == []
    assert fill_depth(repo, 4, "origin", lines.out) == []
    assert lines.err() == []
    assert repo.is_shallow() and repo.count(repo.head_sha, 100) == 5


def test_fill_depth_without_a_remote_or_with_a_failing_fetch_warns(tmp_path: Path) -> None:
    _, repo = shallow_clone(tmp_path, commits=4, depth=1)
    git(repo.root, "remote", "set-url", "origin", f"file://{tmp_path}/gone")
    (failed,) = fill_depth(repo, 3, "origin", Lines().out)
    assert failed.startswith("this shallow clone holds 1 of the last 3 commits and fetching")
    assert failed.endswith("set fetch-depth: 0 in actions/checkout (or run git fetch --unshallow)")
    git(repo.root, "remote", "remove", "origin")
    assert fill_depth(repo, 3, "origin", Lines().out) == [
        "this shallow clone holds 1 of the last 3 commits and there is no remote 'origin' to "
        "fetch more from: set fetch-depth: 0 in actions/checkout (or run git fetch --unshallow)"
    ]


def test_local_commits_are_filed_under_sentrys_spelling_of_the_remote(tmp_path: Path) -> None:
    path = tmp_path / "checkout"
    make_repo(path, commits=1)
    repo = GitRepo(path)
    assert local_repository_name(repo, "origin", {}) == "checkout"
    assert local_repository_name(repo, "origin", {"GITHUB_REPOSITORY": " acme/web "}) == "acme/web"
    git(path, "remote", "add", "origin", "git@github.com:Acme/Web.git")
    assert local_repository_name(repo, "origin", {"GITHUB_REPOSITORY": "x/y"}) == "Acme/Web"
    known = [Repo("acme/api", None, None), Repo("ACME/web", None, None)]
    assert local_repository_name(repo, "origin", {}, known) == "ACME/web"
    long_name = "o/" + "r" * 80
    git(path, "remote", "set-url", "origin", f"https://github.com/{long_name}.git")
    assert local_repository_name(repo, "origin", {}) == long_name[:64]


def test_count_is_none_while_sentry_fetches_refs() -> None:
    local = Association("acme/web", "local", None, "b" * 40, 3)
    refs = Association("acme/api", "refs", None, "a" * 40, None)
    assert CommitsResult("local", (local, local)).count == 6
    assert CommitsResult("refs", (local, refs)).count is None
    assert CommitsResult("local", (Association("r", "local", None, "b" * 40, 0),)).count == 0


@pytest.mark.parametrize(
    ("result", "dry_run", "line"),
    [
        (
            CommitsResult("local", (Association("acme/web", "local", None, "b" * 40, 3),)),
            False,
            "Associated 3 commit(s) with release 1.0",
        ),
        (
            CommitsResult("local", (Association("acme/web", "local", None, "b" * 40, 3),)),
            True,
            "Would associate 3 commit(s) with release 1.0",
        ),
        (
            CommitsResult("refs", (Association("acme/web", "refs", None, "b" * 40, None),) * 2),
            False,
            "Sent commit refs of 2 repository(ies) for 1.0",
        ),
        (
            CommitsResult("refs", (Association("acme/web", "refs", None, "b" * 40, None),)),
            True,
            "Would send commit refs of 1 repository(ies) for 1.0",
        ),
    ],
)
def test_report_ends_with_one_result_line(result: CommitsResult, dry_run: bool, line: str) -> None:
    lines = Lines()
    report(lines.out, result, "1.0", dry_run=dry_run)
    shown = lines.stdout.getvalue().splitlines()
    assert shown[0].split() == ["repository", "mode", "range", "commits"]
    assert shown[-1] == line
    count = "3" if result.mode == "local" else "fetched by Sentry"
    assert shown[2].split(None, 3)[3] == count


def test_report_of_nothing_prints_nothing() -> None:
    lines = Lines()
    report(lines.out, CommitsResult("skip"), "1.0")
    assert lines.stdout.getvalue() == ""


def test_a_revision_may_hold_an_at_sign() -> None:
    """owner/repo never holds '@' (GitHub, GitLab names); a revision can (`main@{1}`)."""
    assert parse_spec("acme/web@main@{1}") == RefSpec("acme/web", "main@{1}")


def test_manual_mode_without_a_spec_is_refused_before_any_request() -> None:
    """The settings refuse it first from the CLI and the action; the step itself too, for
    a caller that builds its Settings directly."""
    lines = Lines()
    settings = Settings(org="acme", commits=CommitOptions(mode="manual"))
    client = Runtime(Settings(auth_token="t"), lines.out, {}).client()  # never reached
    with pytest.raises(ConfigError) as caught:
        associate_commits(settings, client, None, "1.0", lines.out)
    assert str(caught.value) == "set-commits manual needs --commit owner/repo@SHA"


def test_the_server_url_loses_only_its_trailing_slashes() -> None:
    environ = {"GITHUB_REPOSITORY": "acme/web", "GITHUB_SERVER_URL": " https://GHE.EXAMPLE.BOX/ "}
    assert identity_urls(None, environ) == ["https://GHE.EXAMPLE.BOX/acme/web"]


def test_deepening_grows_in_steps_until_the_commit_is_there(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    linear_history(origin, 60)
    wanted = git(origin, "rev-parse", "HEAD~57")  # beyond the first step of 50
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", "clone")
    lines = Lines()
    assert ensure_commit(GitRepo(tmp_path / "clone"), wanted, "origin", lines.out) is None
    assert lines.err() == [
        "shallow clone: fetching 50 more commits of history from origin",
        "shallow clone: fetching 200 more commits of history from origin",
        f"found {wanted[:12]} after deepening by 250 commits",
    ]


def test_skip_mode_does_nothing() -> None:
    lines = Lines()
    settings = Settings(commits=CommitOptions(mode="skip"))  # no org needed to skip
    client = Runtime(Settings(auth_token="t"), lines.out, {}).client()  # never reached
    assert associate_commits(settings, client, None, "1.0", lines.out) == CommitsResult("skip")
    assert lines.stdout.getvalue() == lines.stderr.getvalue() == ""


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        (
            Settings(commits=CommitOptions(mode="local")),
            ConfigError,
            "organization is missing: set SENTRY_ORG or pass --org",
        ),
        (
            Settings(org="acme", commits=CommitOptions(mode="local")),
            GitError,
            "set-commits local needs a git checkout: run inside one or pass --cwd",
        ),
        (
            Settings(org="acme", commits=CommitOptions(mode="auto")),
            GitError,
            "set-commits auto needs a git checkout: run inside one or pass --cwd",
        ),
    ],
)
def test_what_the_step_needs_is_checked_before_any_request(
    settings: Settings, error: type[Exception], message: str
) -> None:
    lines = Lines()
    client = Runtime(Settings(auth_token="t"), lines.out, {}).client()  # never reached
    with pytest.raises(error) as caught:
        associate_commits(settings, client, None, "1.0", lines.out)
    assert str(caught.value) == message


def test_report_is_of_a_real_run_unless_told_otherwise() -> None:
    lines = Lines()
    local = Association("acme/web", "local", None, "b" * 40, 2)
    report(lines.out, CommitsResult("local", (local,)), "1.0")
    assert lines.stdout.getvalue().splitlines()[-1] == "Associated 2 commit(s) with release 1.0"
