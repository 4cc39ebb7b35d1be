"""Issue #13 item 2: where a `.sentryclirc`'s `url` may send the token, per front door."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_release.config.build import from_values
from sentry_release.config.connection import DEFAULT_URL, resolve_connection
from sentry_release.config.parse import check_environment
from sentry_release.errors import ConfigError


def rc(directory: Path, url: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".sentryclirc").write_text(f"[defaults]\nurl = {url}\n", encoding="utf-8")


def test_the_action_ignores_the_workspace_rc_url_and_falls_back_to_home(tmp_path: Path) -> None:
    workspace, home = tmp_path / "ws", tmp_path / "home"
    rc(workspace, "https://evil.example/")
    settings = from_values({}, cwd=workspace, home=home, action=True)
    assert settings.url == DEFAULT_URL
    assert len(settings.warnings) == 1 and "trust_sentryclirc_url" in settings.warnings[0]
    rc(home, "https://self-hosted.example/")
    settings = from_values({}, cwd=workspace, home=home, action=True)
    assert settings.url == "https://self-hosted.example/"  # the runner's own file is trusted


def test_the_action_uses_it_when_the_input_says_so(tmp_path: Path) -> None:
    rc(tmp_path, "https://self-hosted.example/")
    values = {"trust_sentryclirc_url": "true"}
    settings = from_values(values, cwd=tmp_path, home=None, action=True)
    assert settings.url == "https://self-hosted.example/" and settings.warnings == ()


def test_an_explicit_url_wins_without_a_warning(tmp_path: Path) -> None:
    rc(tmp_path, "https://evil.example/")
    for action in (True, False):
        settings = from_values({"url": "https://ok.example"}, cwd=tmp_path, action=action)
        assert settings.url == "https://ok.example/" and settings.warnings == ()


def test_the_cli_warns_for_the_tree_but_not_for_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rc(home, "https://self-hosted.example/")
    conn = resolve_connection(
        url=None, token=None, org=None, projects=None, rc_paths=(home / ".sentryclirc",),
        tree=home, tree_url="warn", home=home,
    )  # fmt: skip
    assert conn.url == "https://self-hosted.example/" and conn.warnings == ()
    repo = tmp_path / "repo"
    rc(repo, "https://from-repo.example/")
    settings = from_values({}, cwd=repo, home=home)
    assert settings.url == "https://from-repo.example/"
    assert len(settings.warnings) == 1 and str(repo / ".sentryclirc") in settings.warnings[0]


@pytest.mark.parametrize("name", ["production", "eu-west 1", "a" * 64, "staging.v2"])
def test_environment_names_sentry_accepts(name: str) -> None:
    assert check_environment(name) == name


@pytest.mark.parametrize("name", ["prod/eu", "a" * 65, "x\ny", "x\ry", "x\fy"])
def test_environment_names_sentry_refuses(name: str) -> None:
    with pytest.raises(ConfigError, match="environment"):
        check_environment(name)
