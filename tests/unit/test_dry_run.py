"""The transport's dry run: reads go to Sentry, writes are printed in "would" form; without
a token nothing is sent and the reads are named as not checked."""

from __future__ import annotations

from datetime import datetime, timezone

import responses

from sentry_release.sentry.api import SentryApi

BASE = "https://sentry.example.com/"
API = BASE + "api/0"
TOKEN = "unit-token-abcdef"
RELEASE = f"{API}/organizations/acme/releases/1.0/"


def test_reads_are_sent_and_writes_printed() -> None:
    lines: list[str] = []
    dry = SentryApi(BASE, TOKEN, dry_run=True, echo=lines.append)
    with responses.RequestsMock() as mock:  # a write reaching the network fails this block
        mock.get(RELEASE, json={"version": "1.0", "projects": [{"slug": "web", "id": 1}]})
        assert dry.get_release("acme", "1.0").version == "1.0"
        dry.finalize_release("acme", "1.0", when=datetime(2026, 1, 1, tzinfo=timezone.utc))
        assert [call.request.method for call in mock.calls] == ["GET"]
    assert len(lines) == 1 and lines[0].startswith(f"[dry-run] would PUT {RELEASE}")
    assert "2026-01-01" in lines[0] and TOKEN not in lines[0]


def test_without_a_token_nothing_is_sent_and_reads_are_not_checked() -> None:
    lines: list[str] = []
    dry = SentryApi(BASE, None, dry_run=True, echo=lines.append)
    with responses.RequestsMock() as mock:
        dry.get_release("acme", "1.0")
        dry.create_release("acme", "1.0", ["web"])
        assert len(mock.calls) == 0
    assert lines[0] == f"[dry-run] not checked (no auth token): GET {RELEASE}"
    assert lines[1].startswith(f"[dry-run] would POST {API}/organizations/acme/releases/")
