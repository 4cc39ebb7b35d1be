"""A bundle's `//# sourceMappingURL=` and `//# debugId=` found in its bytes are the ones found
in its text decoded with `replace` (#23: the checking pass no longer holds a bundle twice)."""

from __future__ import annotations

import random

import pytest

from sentry_release.sourcemaps.discover import debug_id_of_js, sourcemap_location

UUID = b"85314830-023f-4cf1-a267-535f4e37bb17"
FRAGMENTS = [
    b"//# ", b"//@ ", b"// ", b"sourceMappingURL=", b"debugId=", UUID, UUID.upper(),
    b"app.js.map", b"\n", b"\r\n", b"\r", b" ", b"\t", b"x", b"=", b"/",
    "é".encode(), "\u00a0".encode(), "\U0001f600".encode(), b"\xe2\x80", b"\xff", b"\xc3",
]  # fmt: skip
CASES = [
    b"",
    b"x();\n//# sourceMappingURL=app.js.map\n",
    b"//# sourceMappingURL=first.map",
    b"x();\r\n//@ sourceMappingURL=old.map \r\n",
    b"a //# sourceMappingURL=not-at-line-start.map\n",
    b"x\n//# sourceMappingURL=a.map\n//# sourceMappingURL=b.map",
    b"x\n//# sourceMappingURL=caf\xc3\xa9.map\n",
    b"x\n//# sourceMappingURL=bad\xff\xe2\x80.map\n",
    b"x\xe2\n//# sourceMappingURL=after-a-broken-char.map\xc2\xa0\n",
    b"x\n//# debugId=" + UUID + b"\n//# sourceMappingURL=app.js.map\n",
    b"x\n//# debugId=not-a-uuid\n",
    b"ourceMappingURL=short",
]


def same(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    assert sourcemap_location(data) == sourcemap_location(text), data
    assert debug_id_of_js(data) == debug_id_of_js(text), data


@pytest.mark.parametrize("data", CASES)
def test_the_cases_agree(data: bytes) -> None:
    same(data)


def test_built_cases_find_what_they_carry() -> None:
    assert sourcemap_location(CASES[1]) == "app.js.map"
    assert sourcemap_location(CASES[3]) == "old.map"
    assert sourcemap_location(CASES[4]) is None
    assert sourcemap_location(CASES[5]) == "b.map"
    assert sourcemap_location(CASES[7]) == "bad\ufffd\ufffd.map"
    assert debug_id_of_js(CASES[9]) == UUID.decode()


def test_random_bundles_agree() -> None:
    rng = random.Random(23)
    for _ in range(3000):
        same(b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 24))))


def sniffed_by_stripping(data: bytes) -> bool:
    """`is_sourcemap` as it was, stripping copies of the bytes (the reference)."""
    import json

    head = data.lstrip()
    if head.startswith(b")]}'"):
        head = head.split(b"\n", 1)[1].lstrip() if b"\n" in head else b""
    if not head.startswith(b"{"):
        return False
    if b'"mappings"' not in data and b'"sections"' not in data:
        return False
    try:
        parsed = json.loads(head)
    except ValueError:
        return False
    return isinstance(parsed, dict) and ("mappings" in parsed or "sections" in parsed)


SNIFF = [
    b" ", b"\n", b"\r\n", b"\t", b"\x0b", b"\x0c", b")]}'", b"{", b"}", b'"mappings"', b":",
    b'""', b'"sections"', b"[]", b"x", b"\xc2\xa0", b"\x00", b'{"mappings":""}',
    b'{"sections":[]}',
]  # fmt: skip


def test_sniffing_skips_space_as_stripping_did() -> None:
    from sentry_release.sourcemaps.discover import is_sourcemap

    rng = random.Random(23)
    found = 0
    for _ in range(5000):
        data = b"".join(rng.choice(SNIFF) for _ in range(rng.randint(0, 12)))
        assert is_sourcemap(data) == sniffed_by_stripping(data), data
        found += is_sourcemap(data)
    assert found  # some of them are maps
    assert is_sourcemap(b'\n\t)]}\'\n  {"mappings":""}')
    assert not is_sourcemap(b')]}\' {"mappings":""}')  # the prefix ends its line
