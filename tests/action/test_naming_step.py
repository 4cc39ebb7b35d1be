"""The action's naming step (`command: propose-version`, #26), in process: the name and the
exported variables in the runner's files, no token needed; bad input is one line before
anything is written; the full step exports SENTRY_RELEASE too."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sentry_release import action
from sentry_standin import DevServer
from tests.action.test_action import parse_outputs
from tests.helpers import ORG, TOKEN, make_repo


def runner(tmp_path: Path, **inputs: str) -> dict[str, str]:
    repo = tmp_path / "ws"
    if not repo.exists():
        make_repo(repo, commits=1)
    files = {name: tmp_path / name for name in ("env", "output", "summary")}
    for path in files.values():
        path.write_text("")
    return {
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_ENV": str(files["env"]),
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "HOME": str(tmp_path),
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
    }


def run(environ: dict[str, str]) -> int:
    return action.main(environ, action.ActionOutput(github=True, is_tty=False))


def test_the_naming_step_exports_the_name_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = runner(
        tmp_path,
        command="propose-version",
        env_name="VITE_SENTRY_RELEASE NEXT_PUBLIC_SENTRY_RELEASE",
        release_prefix="web@",
        url="http://127.0.0.1:9/",  # nothing listens: a request would fail the step
    )
    assert run(environ) == 0
    sha = (tmp_path / "ws" / ".git" / "refs" / "heads" / "main").read_text().strip()
    name = f"web@{sha}"
    assert parse_outputs((tmp_path / "env").read_text()) == {
        "SENTRY_RELEASE": name,
        "VITE_SENTRY_RELEASE": name,
        "NEXT_PUBLIC_SENTRY_RELEASE": name,
    }
    outputs = parse_outputs((tmp_path / "output").read_text())
    assert outputs["release"] == outputs["version"] == name
    assert outputs["deploy_id"] == outputs["bundle_ids"] == ""
    assert f"Release {name} (from HEAD commit)" in capsys.readouterr().out
    summary = (tmp_path / "summary").read_text()
    assert "| Exported as | `SENTRY_RELEASE`, `VITE_SENTRY_RELEASE`" in summary
    assert "| Release |" not in summary  # nothing was created


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"command": "name"}, "command must be run or propose-version, got 'name'"),
        ({"command": "propose-version", "env_name": "VITE-R"}, "env_name 'VITE-R' is not"),
        ({"env_name": "GITHUB_PATH"}, "env_name 'GITHUB_PATH' is reserved by the runner"),
    ],
)
def test_bad_naming_input_is_one_line_before_anything_is_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    inputs: dict[str, str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = runner(tmp_path, **inputs)
    assert run(environ) == 2
    assert message in capsys.readouterr().out
    assert (tmp_path / "env").read_text() == ""


def test_the_full_step_exports_the_release_it_created(
    server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = runner(
        tmp_path,
        url=server.url,
        org=ORG,
        projects="web",
        auth_token=TOKEN,
        set_commits="skip",
        env_name="VITE_SENTRY_RELEASE",
    )
    environ["SENTRY_RELEASE"] = "web@2.0.0"  # what a naming step exported
    assert run(environ) == 0
    exported = parse_outputs((tmp_path / "env").read_text())
    assert exported == {"SENTRY_RELEASE": "web@2.0.0", "VITE_SENTRY_RELEASE": "web@2.0.0"}
    listed = requests.get(
        f"{server.url}api/0/organizations/{ORG}/releases/",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).json()
    assert [r["version"] for r in listed] == ["web@2.0.0"]
