"""The checkout's own git config runs nothing: each program-running setting, planted in a real
repository, is tried with the git operation that would run it, and leaves no marker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentry_release.errors import GitError
from sentry_release.git import GitRepo
from tests.helpers import commit, git, make_repo
from tests.hostile_git import auth_remote, planted, self_signed


@pytest.fixture()
def origin(tmp_path: Path) -> Path:
    path = tmp_path / "origin"
    make_repo(path, commits=4)
    return path


@pytest.fixture()
def shallow(tmp_path: Path, origin: Path) -> Path:
    """A one-commit clone of `origin` (as actions/checkout makes)."""
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    return clone


@pytest.fixture(params=["http", "https"])
def auth_server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The credential-asking remote over http, and over https (its certificate trusted the
    way a runner trusts an own CA: GIT_SSL_CAINFO in the environment)."""
    tls = None
    if request.param == "https":
        tls = self_signed(tmp_path)
        monkeypatch.setenv("GIT_SSL_CAINFO", str(tls[0]))
    with auth_remote(tls) as url:
        yield url


def test_fsmonitor_is_not_run_by_status(tmp_path: Path) -> None:
    make_repo(tmp_path / "r")
    program, marker = planted(tmp_path, "fsmonitor")
    git(tmp_path / "r", "config", "core.fsmonitor", program)
    assert GitRepo(tmp_path / "r").is_dirty() is False
    assert not marker.exists()


def test_clean_filters_are_not_run_by_status(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo)
    program, marker = planted(tmp_path, "filter")
    (repo / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    for kind in ("clean", "smudge", "process"):
        git(repo, "config", f"filter.evil.{kind}", program)
    git(repo, "config", "filter.evil.required", "true")
    for path in (repo / "src").iterdir():  # a changed stat makes status re-read the file
        os.utime(path, (1, 1))
    GitRepo(repo).is_dirty()
    assert not marker.exists()


def test_external_diff_and_textconv_are_not_run(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    shas = make_repo(repo)
    program, marker = planted(tmp_path, "diff")
    (repo / ".git" / "info" / "attributes").write_text("* diff=evil\n")
    git(repo, "config", "diff.external", program)
    git(repo, "config", "diff.evil.textconv", program)
    git(repo, "config", "diff.evil.command", program)
    checkout = GitRepo(repo)
    list(checkout.log([shas[-1]]))
    with pytest.raises(GitError):  # a diff is never what we ask for; if asked, it runs nothing
        checkout.git("diff", shas[0], shas[-1])
    assert not marker.exists()


def test_pager_and_editor_are_not_the_repositorys(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo)
    program, _ = planted(tmp_path, "pager")
    for key in ("core.pager", "pager.status", "core.editor", "sequence.editor"):
        git(repo, "config", key, program)
    checkout = GitRepo(repo)
    assert checkout.git("var", "GIT_PAGER") == "cat"
    assert checkout.git("var", "GIT_EDITOR") == ":"


def test_hooks_are_not_run_by_the_deepening_fetch(
    tmp_path: Path, origin: Path, shallow: Path
) -> None:
    commit(origin, {"new.txt": "new"}, "pushed since the checkout")  # the fetch moves a ref
    program, marker = planted(tmp_path, "hook")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("reference-transaction", "post-checkout", "pre-auto-gc"):
        (hooks / hook).symlink_to(program)
    git(shallow, "config", "core.hooksPath", str(hooks))
    GitRepo(shallow).deepen("origin", 2)
    assert GitRepo(shallow).count("origin/main", 10) == 4
    assert not marker.exists()


def test_upload_pack_of_the_remote_is_gits_own(tmp_path: Path, shallow: Path) -> None:
    program, marker = planted(tmp_path, "uploadpack")
    git(shallow, "config", "remote.origin.uploadpack", program)
    GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


def test_ssh_command_of_the_repository_is_not_run(tmp_path: Path, shallow: Path) -> None:
    program, marker = planted(tmp_path, "sshcommand")
    git(shallow, "remote", "set-url", "origin", "ssh://git@127.0.0.1:1/repo.git")
    git(shallow, "config", "core.sshCommand", program)
    with pytest.raises(GitError):
        GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


@pytest.mark.parametrize("variable", ["GIT_SSH", "GIT_SSH_COMMAND"])
def test_ssh_programs_from_the_environment_are_not_run(
    tmp_path: Path, shallow: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    program, marker = planted(tmp_path, variable)
    git(shallow, "remote", "set-url", "origin", "ssh://git@127.0.0.1:1/repo.git")
    monkeypatch.setenv(variable, program)
    with pytest.raises(GitError):
        GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


def test_git_proxy_is_not_run(tmp_path: Path, shallow: Path) -> None:
    program, marker = planted(tmp_path, "gitproxy")
    git(shallow, "remote", "set-url", "origin", "git://127.0.0.1:1/repo.git")
    git(shallow, "config", "core.gitProxy", program)
    with pytest.raises(GitError):
        GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


@pytest.mark.parametrize("for_url", [False, True])
def test_credential_helpers_are_not_run(
    tmp_path: Path, shallow: Path, auth_server: str, for_url: bool
) -> None:
    program, marker = planted(tmp_path, "credential")
    git(shallow, "remote", "set-url", "origin", auth_server)
    key = f"credential.{auth_server}.helper" if for_url else "credential.helper"
    git(shallow, "config", key, program)
    with pytest.raises(GitError):
        GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


def test_askpass_is_not_run(tmp_path: Path, shallow: Path, auth_server: str) -> None:
    program, marker = planted(tmp_path, "askpass")
    git(shallow, "remote", "set-url", "origin", auth_server)
    git(shallow, "config", "core.askPass", program)
    with pytest.raises(GitError):
        GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


@pytest.mark.parametrize("remote_url", ["ext::{program}", "fd::7"])
def test_ext_and_fd_transports_stay_off(tmp_path: Path, shallow: Path, remote_url: str) -> None:
    program, marker = planted(tmp_path, "ext")
    git(shallow, "remote", "set-url", "origin", remote_url.format(program=program))
    git(shallow, "config", "protocol.allow", "always")
    git(shallow, "config", "protocol.ext.allow", "always")
    git(shallow, "config", "protocol.fd.allow", "always")
    with pytest.raises(GitError, match="not allowed"):
        GitRepo(shallow).deepen("origin", 2)
    assert not marker.exists()


def test_a_remote_helper_named_by_the_repository_is_not_run(tmp_path: Path, shallow: Path) -> None:
    program, marker = planted(tmp_path, "helper")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "git-remote-evil").symlink_to(program)
    git(shallow, "config", "remote.origin.vcs", "evil")
    os.environ["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    try:
        with pytest.raises(GitError):
            GitRepo(shallow).deepen("origin", 2)
    finally:
        os.environ["PATH"] = os.environ["PATH"].split(os.pathsep, 1)[1]
    assert not marker.exists()


def test_the_guard_keeps_the_runners_own_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_CONFIG_* entries from the environment (the action's safe.directory) still apply."""
    make_repo(tmp_path / "r")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "sentry.probe")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "kept")
    assert GitRepo(tmp_path / "r").git("config", "sentry.probe") == "kept"


def test_a_driver_named_in_bytes_that_are_not_utf8_runs_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo)
    program, marker = planted(tmp_path, "latin1-filter")
    config = repo / ".git" / "config"
    name = "caf\xe9".encode("latin-1")
    config.write_bytes(
        config.read_bytes() + b'[filter "' + name + b'"]\n\tclean = ' + program.encode() + b"\n"
    )
    (repo / ".git" / "info" / "attributes").write_bytes(b"* filter=" + name + b"\n")
    for path in (repo / "src").iterdir():
        os.utime(path, (1, 1))
    GitRepo(repo).is_dirty()
    assert not marker.exists()
