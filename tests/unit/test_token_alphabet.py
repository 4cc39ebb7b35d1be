"""A token with `"` or `\\` (which no Sentry token has: user tokens are `sntryu_` + hex, org
tokens `sntrys_` + base64) is refused: its JSON-escaped form would not be masked."""

from __future__ import annotations

import pytest

from sentry_release.errors import ConfigError
from sentry_release.sentry.transport import check_token


@pytest.mark.parametrize("token", ['sntryu_ab"cd1234', "sntryu_ab\\cd1234"])
def test_quotes_and_backslashes_are_refused(token: str) -> None:
    with pytest.raises(ConfigError, match=r"auth token contains '\"' or '\\'"):
        check_token(token)


@pytest.mark.parametrize("token", ["sntryu_" + "a" * 64, "sntrys_eyJ+/x==_abc-DEF", "a" * 64])
def test_sentry_token_forms_pass(token: str) -> None:
    check_token(token)
