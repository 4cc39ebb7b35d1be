"""What the naming reads, and only that: the event file, Gradle files, manifests, git."""

from __future__ import annotations

import json
from pathlib import Path

from sentry_release.git import GitRepo
from sentry_release.version_inputs import find_gradle_app, gather
from tests.helpers import commit, git, make_repo

GRADLE = 'defaultConfig {\n  applicationId "io.acme.app"\n  versionName "1.2"\n}\n'


def test_gradle_files_are_found_walking_up_and_need_a_root_build_gradle(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "build.gradle").write_text(GRADLE)
    deep = tmp_path / "src" / "main"
    deep.mkdir(parents=True)
    assert find_gradle_app(deep) is None  # no build.gradle beside app/: sentry-cli skips it
    (tmp_path / "build.gradle").write_text("// root\n")
    assert find_gradle_app(deep) == GRADLE
    (tmp_path / "app" / "build.gradle").write_text('versionName "1.2"\n')  # no applicationId
    assert find_gradle_app(deep) is None


def test_a_given_name_reads_nothing(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text("{}")
    environ = {"GITHUB_EVENT_PATH": str(tmp_path / "event.json")}
    args = {"environ": environ, "release_from": None, "tag_pattern": None, "repo": None}
    assert gather(explicit="1.0", workdir=tmp_path, **args) == {}  # type: ignore[arg-type]
    assert (
        gather(explicit=None, workdir=tmp_path, **{**args, "environ": {"SENTRY_RELEASE": "x"}})
        == {}
    )  # type: ignore[arg-type]


def test_the_default_scheme_reads_the_event_gradle_and_head(tmp_path: Path) -> None:
    sha = make_repo(tmp_path / "r", commits=1, tag="v1")[-1]
    event = {"pull_request": {"head": {"sha": "b" * 40}}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    got = gather(
        explicit=None,
        environ={"GITHUB_EVENT_PATH": str(tmp_path / "event.json")},
        release_from=None,
        tag_pattern=None,
        repo=GitRepo(tmp_path / "r"),
        workdir=tmp_path / "r",
    )
    assert got == {"event": event, "gradle_app": None, "head_sha": sha}  # no tags, no describe


def test_describe_matches_the_tag_pattern(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1)
    git(path, "tag", "-a", "-m", "web", "web@1.0")
    commit(path, {"x.txt": "x"}, "next")
    git(path, "tag", "-a", "-m", "api", "api@2.0")
    repo = GitRepo(path)
    args = {"explicit": None, "environ": {}, "release_from": "describe", "repo": repo}
    assert gather(tag_pattern=None, workdir=path, **args)["describe"] == "api@2.0"  # type: ignore[arg-type]
    web = gather(tag_pattern="web@*", workdir=path, **args)["describe"]  # type: ignore[arg-type]
    assert web.startswith("web@1.0-1-g")


def test_package_reads_the_manifests_of_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "a", "version": "1"}')
    got = gather(
        explicit=None,
        environ={},
        release_from="package",
        tag_pattern=None,
        repo=None,
        workdir=tmp_path,
    )
    assert got == {"package_json": '{"name": "a", "version": "1"}', "pyproject_toml": None}
