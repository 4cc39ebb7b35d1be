"""The README's troubleshooting rows say the exit code the code gives for each message, and
its dry-run lines agree with what a dry run does (reads sent, writes printed)."""

from __future__ import annotations

import re
from pathlib import Path

from sentry_release.errors import AuthError, ConfigError, NetworkError, SentryAPIError

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Troubleshooting", 1)[1]
ROWS = re.findall(r"^- `error: (.+?)` \((\d)\)", SECTION, flags=re.M | re.S)
CODES = {
    "Sentry rejected the auth token": AuthError.exit_code,
    "the auth token may not do this": AuthError.exit_code,
    "Invalid projects": SentryAPIError.exit_code,
    "already holds the API path": ConfigError.exit_code,
    "connection refused by": NetworkError.exit_code,
    "organization not found": SentryAPIError.exit_code,
    "auth token is missing": ConfigError.exit_code,
}


def test_each_known_message_row_gives_the_codes_exit_code() -> None:
    seen = set()
    for message, code in ROWS:
        for start, expected in CODES.items():
            if start in message:
                assert int(code) == expected, f"README says ({code}) for {start!r}"
                seen.add(start)
    assert seen == set(CODES)  # every row above is in the README
    assert AuthError.exit_code == 2


def test_the_dry_run_lines_agree() -> None:
    assert "send none" not in README  # a dry run sends its reads
    assert "print each write instead of sending it" in README
