"""Release naming against the real `sentry-cli releases propose-version` (PyPI sentry-cli 3.8.2)
on real git repositories: by default both tools print the same name in every CI situation.
Then the opt-in schemes (`--release-from`), which sentry-cli does not have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.helpers import GIT_ENV, commit, git, make_repo, run_cli

SENTRY_CLI = shutil.which("sentry-cli", path=str(Path(sys.executable).parent)) or shutil.which(
    "sentry-cli"
)
needs_sentry_cli = pytest.mark.skipif(SENTRY_CLI is None, reason="sentry-cli (PyPI) not installed")
CI_PREFIXES = ("SENTRY_", "GITHUB_", "INPUT_", "CI_", "GITLAB", "CIRCLE", "HEROKU", "RUNNER_")
CI_NAMES = ("CI", "SOURCE_VERSION", "CODEBUILD_RESOLVED_SOURCE_VERSION", "CF_PAGES_COMMIT_SHA")


def clean_env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """No CI variables, no rc file: only what the scenario sets."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(CI_PREFIXES) and k not in (*CI_NAMES, "GAE_DEPLOYMENT_ID")
    }
    env.update(GIT_ENV)
    env["HOME"] = str(home)
    env.update(extra)
    return env


def sentry_cli_name(cwd: Path, env: Mapping[str, str]) -> str:
    assert SENTRY_CLI is not None
    done = subprocess.run(
        [SENTRY_CLI, "releases", "propose-version"],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def our_name(cwd: Path, env: Mapping[str, str], *args: str) -> tuple[str, str]:
    done = run_cli(["propose-version", *args], env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def event_file(tmp_path: Path, payload: Mapping[str, object]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


# Each scenario builds a repository under tmp_path and returns (cwd, env, expected name).
Scenario = Callable[[Path], tuple[Path, dict[str, str], str]]


def push_with_a_tag_at_head(tmp: Path) -> tuple[Path, dict[str, str], str]:
    """A branch push whose HEAD carries a release tag: the commit names the release."""
    sha = make_repo(tmp / "r", commits=2, tag="v1.1.0")[-1]
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_SHA": sha,
        "GITHUB_EVENT_PATH": event_file(tmp, {"ref": "refs/heads/main", "after": sha}),
    }
    return tmp / "r", env, sha


def tag_push(tmp: Path) -> tuple[Path, dict[str, str], str]:
    sha = make_repo(tmp / "r", commits=2, tag="v2.0.0")[-1]
    git(tmp / "r", "checkout", "-q", "--detach", "v2.0.0")  # as actions/checkout does
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": "refs/tags/v2.0.0",
        "GITHUB_REF_TYPE": "tag",
        "GITHUB_REF_NAME": "v2.0.0",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": event_file(tmp, {"ref": "refs/tags/v2.0.0", "after": sha}),
    }
    return tmp / "r", env, sha


def pull_request_merge_checkout(tmp: Path) -> tuple[Path, dict[str, str], str]:
    """actions/checkout checks out the merge commit; the PR's head sha names the release."""
    path = tmp / "r"
    base = make_repo(path, commits=2)[-1]
    git(path, "checkout", "-q", "-b", "feature")
    head = commit(path, {"feature.txt": "f\n"}, "feature work")
    git(path, "checkout", "-q", "--detach", base)
    git(path, "merge", "-q", "--no-ff", "-m", "Merge head into base", head)
    payload = {"number": 7, "pull_request": {"head": {"sha": head}, "base": {"sha": base}}}
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": event_file(tmp, payload),
    }
    return path, env, head


def detached_head(tmp: Path) -> tuple[Path, dict[str, str], str]:
    shas = make_repo(tmp / "r", commits=3)
    git(tmp / "r", "checkout", "-q", "--detach", shas[1])
    return tmp / "r", {}, shas[1]


def gitlab_pipeline(tmp: Path) -> tuple[Path, dict[str, str], str]:
    """GitLab's variables are not read by sentry-cli: HEAD names the release."""
    shas = make_repo(tmp / "r", commits=2, tag="v3.0")
    env = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": shas[0],
        "CI_COMMIT_TAG": "v3.0",
        "CI_COMMIT_REF_NAME": "v3.0",
    }
    return tmp / "r", env, shas[-1]


def moving_and_slashed_tags(tmp: Path) -> tuple[Path, dict[str, str], str]:
    """`latest`, `nightly` and `release/1.0` at HEAD are not release names: no error."""
    path = tmp / "r"
    sha = make_repo(path, commits=1, tag="latest")[-1]
    git(path, "tag", "nightly")
    git(path, "tag", "release/1.0")
    return path, {"GITHUB_REF": "refs/heads/main"}, sha


def subdirectory(tmp: Path) -> tuple[Path, dict[str, str], str]:
    sha = make_repo(tmp / "r", commits=2)[-1]
    return tmp / "r" / "src", {}, sha


def circleci(tmp: Path) -> tuple[Path, dict[str, str], str]:
    make_repo(tmp / "r", commits=1)
    return tmp / "r", {"CI": "true", "CIRCLE_SHA1": "c" * 40}, "c" * 40


def heroku_before_circleci(tmp: Path) -> tuple[Path, dict[str, str], str]:
    make_repo(tmp / "r", commits=1)
    return tmp / "r", {"SOURCE_VERSION": "h" * 12, "CIRCLE_SHA1": "c" * 40}, "h" * 12


def sentry_release_variable(tmp: Path) -> tuple[Path, dict[str, str], str]:
    make_repo(tmp / "r", commits=1, tag="v9")
    return tmp / "r", {"SENTRY_RELEASE": "shop@4.2.0"}, "shop@4.2.0"


def android_gradle(tmp: Path) -> tuple[Path, dict[str, str], str]:
    path = tmp / "r"
    make_repo(path, commits=1)
    gradle = 'android {\n  defaultConfig {\n    applicationId "io.acme.shop"\n'
    gradle += '    versionName "5.1.0"\n  }\n}\n'
    commit(path, {"build.gradle": "// root\n", "app/build.gradle": gradle}, "android app")
    return path, {}, "io.acme.shop@5.1.0"


SCENARIOS: dict[str, Scenario] = {
    "push with a tag at HEAD": push_with_a_tag_at_head,
    "tag push": tag_push,
    "pull request (event file, merge checkout)": pull_request_merge_checkout,
    "detached HEAD": detached_head,
    "GitLab pipeline": gitlab_pipeline,
    "latest, nightly, release/1.0 at HEAD": moving_and_slashed_tags,
    "subdirectory of the checkout": subdirectory,
    "CircleCI": circleci,
    "Heroku before CircleCI": heroku_before_circleci,
    "SENTRY_RELEASE": sentry_release_variable,
    "Android Gradle files": android_gradle,
}


@needs_sentry_cli
@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=list(SCENARIOS))
def test_same_name_as_sentry_cli_propose_version(tmp_path: Path, scenario: str) -> None:
    cwd, extra, expected = SCENARIOS[scenario](tmp_path)
    env = clean_env(tmp_path, extra)
    theirs = sentry_cli_name(cwd, env)
    ours, stderr = our_name(cwd, env)
    assert (ours, theirs) == (expected, expected)
    assert "warning" not in stderr.lower()


# --- opt-in schemes ---------------------------------------------------------------------------


def test_release_from_tag_takes_the_highest_matching_tag_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1, tag="web@1.2.0")
    git(path, "tag", "web@1.10.0")
    git(path, "tag", "api@7.0")
    ours, stderr = our_name(path, clean_env(tmp_path, {}), "--tag-pattern", "web@*")
    assert ours == "web@1.10.0"
    assert "taking web@1.10.0 (the highest), not web@1.2.0" in stderr


def test_release_from_tag_prefers_the_pushed_tag(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1, tag="v1.0.0")
    git(path, "tag", "v1.0.1")
    env = clean_env(tmp_path, {"GITHUB_REF": "refs/tags/v1.0.0", "GITHUB_REF_TYPE": "tag"})
    ours, stderr = our_name(path, env, "--release-from", "tag")
    assert (ours, stderr) == ("v1.0.0", "")


def test_release_from_tag_without_a_version_tag_falls_back_to_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "r"
    sha = make_repo(path, commits=1, tag="latest")[-1]
    ours, stderr = our_name(path, clean_env(tmp_path, {}), "--release-from", "tag")
    assert ours == sha
    assert "no tag at HEAD matches a version" in stderr


def test_release_from_describe_is_git_describe_always(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1)
    git(path, "tag", "-a", "-m", "release", "v1.4.0")
    commit(path, {"next.txt": "n\n"}, "after the tag")
    expected = git(path, "describe", "--always")
    assert expected.startswith("v1.4.0-1-g")
    ours, _ = our_name(path, clean_env(tmp_path, {}), "--release-from", "describe")
    assert ours == expected


def test_release_from_describe_without_tags_is_the_short_sha(tmp_path: Path) -> None:
    path = tmp_path / "r"
    sha = make_repo(path, commits=1)[-1]
    ours, _ = our_name(path, clean_env(tmp_path, {}), "--release-from", "describe")
    assert len(ours) >= 7 and sha.startswith(ours)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"package.json": '{"name": "shop-web", "version": "3.2.1"}'}, "shop-web@3.2.1"),
        ({"pyproject.toml": '[project]\nname = "shop-api"\nversion = "0.9.0"\n'}, "shop-api@0.9.0"),
    ],
)
def test_release_from_package(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1)
    commit(path, files, "manifest")
    ours, _ = our_name(path, clean_env(tmp_path, {}), "--release-from", "package")
    assert ours == expected


def test_bad_release_from_is_exit_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1)
    done = run_cli(["propose-version", "--release-from", "package"], clean_env(tmp_path, {}), path)
    assert done.returncode == 2
    assert "needs a package.json or pyproject.toml" in done.stderr
    assert "Traceback" not in done.stderr
