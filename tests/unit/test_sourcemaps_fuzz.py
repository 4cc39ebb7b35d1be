"""Fuzzing inject and collect with hostile source maps and file names (#13).

Whatever the build holds, the tool ends with its result or one SentryReleaseError (exit 2):
no other exception (a traceback for the user), no hang (a FIFO is never opened; pytest-timeout
bounds every case), and the token never reaches the output or the files to upload, even when
a map names /proc/self/environ.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.errors import SentryReleaseError
from sentry_release.output import Output
from sentry_release.sourcemaps.collect import collect
from sentry_release.sourcemaps.inject import inject_paths

SECRET = "sntrys_fuzz-secret-value-0123456789"

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=20))
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
vlq = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/,;", max_size=60
)
source = st.one_of(
    st.sampled_from(
        [
            "/proc/self/environ",
            "../../../../../../proc/self/environ",
            "../src/a.js",
            "../../outside.txt",
            "pipe.js",
            "a\x00b",
            "webpack:///x.js",
            "",
        ]
    ),
    st.text(max_size=30),
)
source_map = st.fixed_dictionaries(
    {"version": st.sampled_from([3, "3", None])},
    optional={
        "sources": st.one_of(st.lists(source, max_size=6), json_value),
        "sourcesContent": st.one_of(
            st.lists(st.none() | st.text(max_size=10), max_size=6), json_value
        ),
        "mappings": st.one_of(vlq, json_value),
        "sections": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "offset": st.fixed_dictionaries(
                            {"line": st.integers(0, 5), "column": st.integers(0, 5)}
                        ),
                        "map": json_value,
                    }
                ),
                max_size=2,
            ),
            json_value,
        ),
        "sourceRoot": json_value,
        "debugId": st.one_of(st.uuids().map(str), json_value),
        "names": json_value,
    },
)
map_bytes = st.one_of(
    source_map.map(lambda m: json.dumps(m).encode()),
    st.binary(max_size=40),
    st.sampled_from([b"", b")]}'\n{}", b"[]", b'{"mappings": "AAAA"', b"\xef\xbb\xbf{}"]),
)
prologue = st.sampled_from(
    ["", "\ufeff", "#!/usr/bin/env node\n", '"use strict"', "'use strict';\n", "/* c */"]
)
js_text = st.builds(lambda p, body: p + body, prologue, st.text(max_size=40))
name = st.one_of(
    st.sampled_from(["app", "a b", "x\ny", "::warning::x", "é", "..", "-", "a.min"]),
    st.text(
        alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=12,
    ),
)


def quiet() -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(stdout=stdout, stderr=stderr, is_tty=False), stdout, stderr


def build(
    root: Path, files: list[tuple[str, bytes, bytes | None, str | None]], raw_name: bool, fifo: bool
) -> None:
    dist = root / "dist"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.js").write_text("let a;\n")
    (root.parent / "outside.txt").write_text(SECRET)
    dist.mkdir()
    for base, js, smap, reference in files:
        safe = base.replace("/", "_")
        target = dist / f"{safe}.js"
        comment = f"\n//# sourceMappingURL={reference}\n" if reference is not None else ""
        try:
            target.write_bytes(js + comment.encode("utf-8", "surrogateescape"))
            if smap is not None:
                (dist / f"{safe}.js.map").write_bytes(smap)
        except (OSError, ValueError):
            continue
    if raw_name:
        with open(os.fsencode(dist) + b"/raw\xff.js", "wb") as handle:
            handle.write(b"x();\n")
    if fifo:
        os.mkfifo(dist / "pipe.js")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.lists(
        st.tuples(
            name,
            js_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.none() | map_bytes,
            st.none()
            | st.sampled_from(
                [
                    "{}.js.map",
                    "missing.map",
                    "data:application/json;base64,e30=",
                    "https://x/y.map",
                    "../../etc/passwd",
                ]
            ),
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda f: f[0],
    ),
    raw_name=st.booleans(),
    fifo=st.booleans(),
    dry_run=st.booleans(),
)
@pytest.mark.slow  # a fuzz run: many examples
@pytest.mark.timeout(300)
def test_inject_and_collect_never_crash_hang_or_leak(
    monkeypatch: pytest.MonkeyPatch,
    files: list[tuple[str, bytes, bytes | None, str | None]],
    raw_name: bool,
    fifo: bool,
    dry_run: bool,
) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", SECRET)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "work"
        resolved = [
            (n, js, smap, None if ref is None else ref.replace("{}", n.replace("/", "_")))
            for n, js, smap, ref in files
        ]
        build(root, resolved, raw_name, fifo)
        out, stdout, stderr = quiet()
        try:
            inject_paths((root / "dist",), dry_run=dry_run, out=out, inside=root)
        except SentryReleaseError as exc:
            assert SECRET not in str(exc)
        opts = SourceMapOptions(paths=(Path("dist"),), strict=False)
        config = Settings(working_directory=root, sourcemaps=opts, org="o", projects=("p",))
        uploaded: list[Any] = []
        try:
            uploaded = collect(config, out=out).files
        except SentryReleaseError as exc:
            assert SECRET not in str(exc)
        assert SECRET not in stdout.getvalue() + stderr.getvalue()
        for f in uploaded:
            assert SECRET.encode() not in bytes(f.content), f.url
        assert not [p for p in (root / "dist").iterdir() if p.name.endswith(".tmp")]
