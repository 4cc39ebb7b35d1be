"""What `redact` removes from a printed line, and what the leak sweeps find.

The encoded forms below are written out by hand (an independent oracle): the leak sweeps of
the e2e tests use `find_leaks`, which takes its forms from the product's own `encodings()`, so
a wrong encoding there would hide the same leak from both sides. These tests pin each form.
"""

from __future__ import annotations

import pytest

from sentry_release.redact import (
    clear_secrets,
    find_leaks,
    redact,
    register_secret,
    strip_userinfo,
)

# "pass word/+?&x" percent-encoded (RFC 3986, '/' included), form-encoded and base64'd.
SECRET = "pass word/+?&x"
PERCENT = "pass%20word%2F%2B%3F%26x"
FORM = "pass+word%2F%2B%3F%26x"
BASE64 = "cGFzcyB3b3JkLys/Jng="  # one '=' of padding


@pytest.fixture(autouse=True)
def _secret() -> None:
    clear_secrets()
    register_secret(SECRET)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"as written: {SECRET} end", "as written: [redacted] end"),
        (f"in a path: /a/{PERCENT}/b", "in a path: /a/[redacted]/b"),
        (f"in a form body: x {FORM} y", "in a form body: x [redacted] y"),
        (f"basic {BASE64}", "basic [redacted]="),
        # base64 without its padding (JWT-like, URL-safe contexts) is still the secret
        (f"unpadded {BASE64.rstrip('=')} end", "unpadded [redacted] end"),
    ],
)
def test_every_encoding_of_a_registered_secret_is_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_base64_whose_last_digit_is_not_padding_is_redacted_whole() -> None:
    register_secret("tokenW")  # base64 dG9rZW5X: no padding, ends in 'X'
    assert redact("x dG9rZW5X y") == "x [redacted] y"


def test_a_percent_encoded_slash_is_recognised() -> None:
    """'/' is encoded too (a secret in a URL path segment or query)."""
    register_secret("ab/cd/ef")
    assert redact("GET /x?p=1 ab%2Fcd%2Fef") == "GET /x?p=1 [redacted]"


def test_a_secret_inside_another_secret_leaves_no_tail() -> None:
    """The longer secret is replaced first: a shorter one inside it must not split it and
    leave the rest of the longer one on the line."""
    register_secret("secret-zz")
    register_secret("a-secret-zz")
    assert redact("value a-secret-zz end") == "value [redacted] end"


def test_a_secret_ending_in_percent_is_redacted_in_its_encoded_form_whole() -> None:
    register_secret("abcd%")  # percent-encoded: abcd%25, which holds the raw form
    assert redact("seen abcd%25 here") == "seen [redacted] here"


def test_the_shortest_secret_registered_is_four_characters() -> None:
    register_secret("wxyz")
    register_secret("uvw")
    assert redact("wxyz uvw") == "[redacted] uvw"


@pytest.mark.parametrize("word", ["Bearer", "bearer", "BEARER", "BeArEr"])
def test_bearer_credentials_are_masked_in_any_case(word: str) -> None:
    text = f"Authorization: {word} sntrys_never_registered_123"
    assert redact(text) == f"Authorization: {word} [redacted]"


def test_url_credentials_are_replaced_and_the_host_kept() -> None:
    assert redact("fetch https://user:pw@example.com/x") == "fetch https://[redacted]@example.com/x"


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://user:pw@example.com/a.git", "https://example.com/a.git"),
        # an unencoded '@' in the password: the host is what follows the last '@'
        ("https://user:p@ss@example.com/a.git", "https://example.com/a.git"),
        ("https://example.com/a.git", "https://example.com/a.git"),
        ("git@github.com:acme/web.git", "git@github.com:acme/web.git"),
    ],
)
def test_strip_userinfo(url: str, stripped: str) -> None:
    assert strip_userinfo(url) == stripped


@pytest.mark.parametrize("form", [SECRET, PERCENT, FORM, BASE64.rstrip("=")])
def test_find_leaks_names_each_line_holding_any_form(form: str) -> None:
    texts = {"stdout": f"clean\nleaked {form} here\nclean", "stderr": "nothing"}
    assert find_leaks(SECRET, texts) == [f"stdout: leaked {form} here"]


def test_find_leaks_is_empty_for_clean_or_redacted_text() -> None:
    texts = {"stdout": redact(f"a {SECRET} b\nc {BASE64} d"), "summary": "pass word"}
    assert find_leaks(SECRET, texts) == []
