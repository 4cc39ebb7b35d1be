"""Secrets in URLs and multi-line tokens never reach a printed line (#13 items 3, 9, 10)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sentry_release.errors import ConfigError
from sentry_release.git import GitRepo
from sentry_release.redact import clear_secrets, redact, register_secret, strip_userinfo
from sentry_release.sentry.transport import check_token
from tests.helpers import make_repo


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("remote https://gitlab-ci-token:glpat-XYZ123@gitlab.com/a/b.git", "glpat-XYZ123"),
        ("GET https://user:hunter22@sentry.example.com/api/0/", "hunter22"),
        ("probe https://app.example.com/health?token=s3cr3tvalue&x=1", "s3cr3tvalue"),
        ("probe https://app.example.com/health?x=1&api_key=k3yvalue", "k3yvalue"),
        ("signed https://cdn.example.com/a.js?X-Amz-Signature=abcdef0123", "abcdef0123"),
    ],
)
def test_url_secrets_are_redacted(text: str, secret: str) -> None:
    shown = redact(text)
    assert secret not in shown and "[redacted]" in shown


def test_plain_urls_are_left_alone() -> None:
    text = "https://sentry.io/api/0/organizations/acme/releases/?per_page=1 git@github.com:a/b"
    assert redact(text) == text


def test_a_token_with_a_line_break_is_redacted_line_by_line() -> None:
    clear_secrets()
    register_secret("firsthalf123\nsecondhalf456")
    assert "secondhalf456" not in redact("the rest: secondhalf456")
    assert "firsthalf123" not in redact("firsthalf123 alone")
    clear_secrets()


@pytest.mark.parametrize("token", ["abc def", "abc\ndef", "tökén-value", "tab\there", ""])
def test_tokens_must_be_printable_ascii_without_whitespace(token: str) -> None:
    with pytest.raises(ConfigError, match="auth token contains"):
        check_token(token)


def test_git_remote_credentials_never_leave_the_checkout(tmp_path: Path) -> None:
    make_repo(tmp_path / "r", commits=1)
    url = "https://gitlab-ci-token:glpat-SECRET999@gitlab.example.com/acme/web.git"
    subprocess.run(["git", "remote", "add", "origin", url], cwd=tmp_path / "r", check=True)
    remote = GitRepo(tmp_path / "r").remote_url()
    assert remote == "https://gitlab.example.com/acme/web.git"
    assert strip_userinfo(url) == remote
