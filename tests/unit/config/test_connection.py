"""The connection: org tokens, .sentryclirc, precedence."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sentry_release.config.build import from_values
from sentry_release.config.connection import decode_org_token, resolve_connection


def org_token(payload: dict[str, object]) -> str:
    encoded = base64.b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"sntrys_{encoded}_secretpart"


def test_org_token_embeds_url_and_org() -> None:
    token = org_token(
        {
            "iat": 1,
            "url": "https://sentry.acme.dev",
            "org": "acme",
            "region_url": "https://us.sentry.acme.dev",
        }
    )
    info = decode_org_token(token)
    assert (info.url, info.org, info.region_url) == (
        "https://sentry.acme.dev",
        "acme",
        "https://us.sentry.acme.dev",
    )
    assert decode_org_token("sntrys_!!!notbase64").org is None
    assert decode_org_token("plain-token").url is None


def test_org_token_wins_with_a_warning() -> None:
    token = org_token({"url": "https://sentry.acme.dev", "org": "acme"})
    conn = resolve_connection(url="https://other.dev", token=token, org="other", projects="web")
    assert conn.url == "https://sentry.acme.dev/" and conn.org == "acme"
    assert any("belongs to organization 'acme'" in w for w in conn.warnings)
    assert any("token is for https://sentry.acme.dev" in w for w in conn.warnings)


def test_sentryclirc_has_the_lowest_precedence(tmp_path: Path) -> None:
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir(), home.mkdir()
    (cwd / ".sentryclirc").write_text("[defaults]\norg = from-cwd\n")
    (home / ".sentryclirc").write_text(
        "[defaults]\norg = from-home\nproject = web\nurl = https://self.hosted/\n"
        "[auth]\ntoken = rc-token-123\n"
    )
    settings = from_values({}, cwd=cwd, home=home)
    assert settings.org == "from-cwd"
    assert settings.projects == ("web",)
    assert settings.url == "https://self.hosted/"
    assert settings.auth_token == "rc-token-123"
    settings = from_values({"org": "flag-org", "projects": ["a", "b"]}, cwd=cwd, home=home)
    assert settings.org == "flag-org" and settings.projects == ("a", "b")
