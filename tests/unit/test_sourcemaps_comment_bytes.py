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
