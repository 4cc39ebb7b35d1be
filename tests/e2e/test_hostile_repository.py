"""A checkout whose .git/config names a program for every setting git has for one (and an
environment naming ssh programs): across propose-version, set-commits (local; a shallow
clone deepened from a file, ssh, http and https remote), run and the action's entry point, git
runs none of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_standin import DevServer
from tests.action.test_runner import run_step
from tests.helpers import ORG, TOKEN, commit, git, make_repo, run_cli
from tests.hostile_git import auth_remote, plant_everything, ran, self_signed

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("remote", ["file", "ssh", "http", "https"])
def test_no_planted_program_runs(
    server: DevServer, env: dict[str, str], tmp_path: Path, remote: str
) -> None:
    origin = tmp_path / "origin"
    make_repo(origin, commits=5, tag="v1.0.0")
    commit(origin, {"src/more.txt": "more\n"}, "after the tag")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(checkout))
    markers, programs = plant_everything(checkout, tmp_path / "planted")
    tls = self_signed(tmp_path) if remote == "https" else None
    if tls is not None:  # the remote's CA, trusted as a runner trusts its own
        programs = {**programs, "GIT_SSL_CAINFO": str(tls[0])}
    env = {**env, **programs}
    with auth_remote(tls) as asking_url:
        url = {
            "file": f"file://{origin}",
            "ssh": "ssh://git@127.0.0.1:1/repo.git",
            "http": asking_url,
            "https": asking_url,
        }[remote]
        git(checkout, "remote", "set-url", "origin", url)

        proposed = run_cli(["propose-version"], env, cwd=checkout)
        assert proposed.returncode == 0, proposed.stderr
        assert run_cli(["new", "1.0"], env, cwd=checkout).returncode == 0
        local = run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=checkout)
        assert local.returncode == 0, local.stderr
        if remote == "file":
            assert "fetching more failed" not in local.stderr  # the deepening still works
        else:  # it was tried (ssh: nothing listens; http(s): asks for credentials)
            assert "fetching more failed" in local.stderr, local.stderr
        done = run_cli(["run", "2.0", "--mode", "local", "-e", "prod"], env, cwd=checkout)
        assert done.returncode == 0, done.stderr
        action = run_step(
            checkout,
            tmp_path,
            {
                "url": server.url,
                "org": ORG,
                "projects": "web",
                "set_commits": "local",
                "environment": "prod",
            },
            env={"SENTRY_AUTH_TOKEN": TOKEN, **programs},
        )
        assert action.code == 0, action.stdout + action.stderr
    assert ran(markers) == []
