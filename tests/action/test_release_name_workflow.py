"""The README's name -> build -> release workflows (#26), run as written on push and on
pull_request: the naming step sends nothing, the build reads the exported variables, and the
full step creates exactly the release the build baked in (the PR's head sha on pull_request,
not the merge commit GitHub builds)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sentry_release.runtime import TIME_SCALE_ENV
from sentry_standin import DevServer
from tests.action.runner import ACTION_USES, ROOT, job_steps, run_job
from tests.helpers import GIT_ENV, ORG, TIME_SCALE, TOKEN, git, make_repo

README = (ROOT / "README.md").read_text(encoding="utf-8")
WORKFLOWS = [
    yaml.safe_load(block)
    for block in re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    if "command: propose-version" in block
]

# Stand-ins for the build tools: each records what the build saw of the release name (a
# bundler bakes `*SENTRY_RELEASE` variables into the bundle; `docker build --build-arg X`
# passes X from the environment into the image).
FAKE_NPM = """
import json, os, pathlib, sys
if sys.argv[1:] == ["ci"]:
    sys.exit(0)
assert sys.argv[1:] == ["run", "build"], sys.argv
out = pathlib.Path(os.environ["FAKE_BUILD_OUT"])
out.mkdir(parents=True, exist_ok=True)
seen = {k: v for k, v in os.environ.items() if k.endswith("SENTRY_RELEASE")}
(out / "app.js").write_text(
    "var release = " + json.dumps(seen, sort_keys=True) + ";\\n"
    "//# sourceMappingURL=app.js.map\\n"
)
(out / "app.js.map").write_text(json.dumps({
    "version": 3, "file": "app.js", "sources": ["src/app.ts"],
    "sourcesContent": ["export const release = 1;\\n"], "names": [], "mappings": "AAAA",
}))
"""
FAKE_DOCKER = """
import json, os, pathlib, sys
args = sys.argv[1:]
assert args[0] == "build", args
seen = {}
for flag, value in zip(args, args[1:]):
    if flag == "--build-arg":
        name, _, given = value.partition("=")
        seen[name] = given or os.environ.get(name, "")
out = pathlib.Path(os.environ["FAKE_BUILD_OUT"])
out.mkdir(parents=True, exist_ok=True)
(out / "build-args.json").write_text(json.dumps(seen, sort_keys=True))
"""


def tools(bin_dir: Path) -> Path:
    bin_dir.mkdir()
    for name, body in (("npm", FAKE_NPM), ("docker", FAKE_DOCKER)):
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    return bin_dir


def checkout(workspace: Path, event_name: str) -> tuple[dict[str, Any], str, str, str]:
    """The commit actions/checkout leaves: HEAD on push; on pull_request the merge commit
    GitHub builds (GITHUB_SHA) of the PR's head into main. Returns the event payload, the
    ref, GITHUB_SHA and the name the release must get."""
    shas = make_repo(workspace, commits=2)
    if event_name == "push":
        return {"ref": "refs/heads/main", "after": shas[-1]}, "refs/heads/main", shas[-1], shas[-1]
    git(workspace, "checkout", "-q", "-b", "feature", shas[0])
    (workspace / "feature.txt").write_text("feature\n")
    git(workspace, "add", "feature.txt")
    git(workspace, "commit", "-q", "-m", "feature")
    head = git(workspace, "rev-parse", "HEAD")
    git(workspace, "checkout", "-q", "--detach", shas[-1])
    git(workspace, "merge", "-q", "--no-ff", "-m", f"Merge {head} into {shas[-1]}", head)
    merge = git(workspace, "rev-parse", "HEAD")
    event = {"number": 7, "pull_request": {"number": 7, "head": {"sha": head, "ref": "feature"}}}
    return event, "refs/pull/7/merge", merge, head


def build_output(workflow: dict[str, Any], workspace: Path, tmp_path: Path) -> Path:
    """Where the build writes: the folder the full step uploads, else the image's stand-in."""
    _, steps = job_steps(workflow)
    full = [s for s in steps if str(s.get("uses", "")).startswith(ACTION_USES)][-1]
    maps = full.get("with", {}).get("sourcemaps")
    return (workspace / maps).resolve() if maps else tmp_path / "image"


def seen_by_build(out: Path) -> dict[str, str]:
    if (out / "build-args.json").exists():
        return dict(json.loads((out / "build-args.json").read_text()))
    text = (out / "app.js").read_text()
    return dict(json.loads(text.split("var release = ", 1)[1].split(";\n", 1)[0]))


def releases(server: DevServer) -> list[dict[str, Any]]:
    url = f"{server.url}api/0/organizations/{ORG}/releases/"
    answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    answer.raise_for_status()
    return list(answer.json())


def test_the_readme_has_the_three_workflows() -> None:
    assert len(WORKFLOWS) == 3
    for workflow in WORKFLOWS:
        assert set(workflow[True]) == {"push", "pull_request"}  # yaml reads `on:` as True
        _, steps = job_steps(workflow)
        mine = [s for s in steps if str(s.get("uses", "")).startswith(ACTION_USES)]
        assert [s.get("with", {}).get("command") for s in mine] == ["propose-version", None]
        assert "auth_token" not in mine[0].get("with", {}) and "env" not in mine[0]


@pytest.mark.slow
@pytest.mark.parametrize("event_name", ["push", "pull_request"])
@pytest.mark.parametrize("example", range(3), ids=["vite", "webpack-nextjs", "python"])
def test_the_build_sees_the_name_of_the_release_the_full_step_creates(
    server: DevServer, tmp_path: Path, example: int, event_name: str
) -> None:
    workflow = WORKFLOWS[example]
    workspace = tmp_path / "workspace"
    event, ref, github_sha, expected = checkout(workspace, event_name)
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    out = build_output(workflow, workspace, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENTRY_", "GITHUB_", "INPUT_", "RUNNER_")) and k != "CI"
    }
    runner_env = {
        **base,
        **GIT_ENV,
        "PATH": f"{tools(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_SHA": github_sha,
        "GITHUB_REF": ref,
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": "acme/web",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(tmp_path),
        "SENTRY_URL": server.url,  # the examples name sentry.io by default
        "FAKE_BUILD_OUT": str(out),
        TIME_SCALE_ENV: str(TIME_SCALE),
    }
    connections: list[object] = []  # every TCP connection the stand-in accepts
    accept = server.httpd.process_request

    def counted(request: Any, address: Any) -> None:
        connections.append(address)
        accept(request, address)

    server.httpd.process_request = counted  # type: ignore[method-assign]
    before: list[tuple[int, int]] = []
    run_job(
        workflow,
        runner_env=runner_env,
        secrets={"SENTRY_AUTH_TOKEN": TOKEN},
        files=tmp_path / "files",
        cwd=workspace,
        on_step=lambda index, step: before.append((len(server.store.requests), len(connections))),
    )
    naming, build, _full = before
    assert build == naming, "the naming step sent a request or opened a connection"
    assert len(server.store.requests) > build[0] and len(connections) > build[1]
    _, steps = job_steps(workflow)
    names = ["SENTRY_RELEASE", *steps[1]["with"].get("env_name", "").split()]
    seen = seen_by_build(out)
    assert set(seen) >= set(names[-1:])
    assert {seen[name] for name in names if name in seen} == {expected}
    assert [r["version"] for r in releases(server)] == [expected]
    if event_name == "pull_request":
        assert expected != github_sha
    if steps[-1].get("with", {}).get("sourcemaps"):
        assert "artifactbundle" in json.dumps(server.store.requests)
