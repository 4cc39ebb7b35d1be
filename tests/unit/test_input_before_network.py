"""Bad input never reaches the network: a Sentry URL that cannot work (port out of range,
whitespace, credentials in it), a slug Sentry cannot hold, a CA bundle that is not one; each
is refused (exit 2) when the settings are built, before any client exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_release.config.build import from_values
from sentry_release.errors import ConfigError
from sentry_release.sentry.api import SentryApi


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:99999", "port 99999 is out of range"),
        ("http://127.0.0.1:0/", "port 0 is out of range"),
        ("http://sentry.example.com:80x/", "is not a port number"),
        ("https://sentry example.com/", "holds whitespace"),
        ("https://sentry.example.com/ api", "holds whitespace"),
        ("https://sentry.example.com/\x1b[2J", "holds a control character"),
        ("http://user:pw@sentry.example.com/", "holds a user name or password"),
        ("https://token@sentry.example.com/", "holds a user name or password"),
    ],
)
def test_a_sentry_url_that_cannot_work_is_refused(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        from_values({"url": url, "org": "acme", "projects": ["web"]}, cwd=tmp_path)
    assert "pw" not in str(refused.value)
    with pytest.raises(ConfigError, match=says):
        SentryApi(url, "sntryu_input_token")


@pytest.mark.parametrize("slug", ["Web App!", "web/app", "wéb", "web;x"])
def test_a_project_slug_sentry_cannot_hold_is_refused(tmp_path: Path, slug: str) -> None:
    with pytest.raises(ConfigError, match=r"project slug .* \(letters, digits, '_' and '-' only\)"):
        from_values({"org": "acme", "projects": [slug]}, cwd=tmp_path)


@pytest.mark.parametrize("slug", ["acme!", "a b", "../x"])
def test_an_organization_slug_sentry_cannot_hold_is_refused(tmp_path: Path, slug: str) -> None:
    with pytest.raises(ConfigError, match="organization slug"):
        from_values({"org": slug, "projects": ["web"]}, cwd=tmp_path)


@pytest.mark.parametrize("slug", ["web", "my-app_2", "Web", "123"])
def test_slugs_sentry_holds_pass(tmp_path: Path, slug: str) -> None:
    assert from_values({"org": "acme", "projects": [slug]}, cwd=tmp_path).projects == (slug,)


def test_a_ca_bundle_that_holds_no_certificate_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="holds no usable certificate"):
        from_values({"ca_bundle": "ca.pem", "org": "acme"}, cwd=tmp_path)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999", "http://sentry example.com/", "http://u:pw@127.0.0.1:9/"]
)
def test_the_cli_stops_with_one_line_and_exit_2(tmp_path: Path, url: str) -> None:
    """Through the front door (in process): one line, exit 2; nothing listens at these
    addresses, so a request would have been a retried connection error (exit 1)."""
    import io

    from sentry_release.cli import run_cli
    from sentry_release.output import Output

    stderr = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=stderr, is_tty=False)
    args = ["new", "1.0", "--url", url, "--auth-token", "sntryu_x1234", "--org", "acme"]
    assert run_cli([*args, "-p", "web", "--cwd", str(tmp_path)], environ={}, out=out) == 2
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Sentry URL ") and "pw" not in lines[0]
