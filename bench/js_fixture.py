"""Deterministic minified JS bundles with real-shaped v3 source maps (the bench's own generator).

Each bundle `dist/chunk-NNNN.js` is minified code on long lines ending in a
`//# sourceMappingURL=` comment; its sibling `.map` has `version`, `file`, `sources`,
`sourcesContent`, `names` and VLQ `mappings` where every generated token maps to a real
line/column of the original source. Sizes are spread around the mean like a real build (a few
large vendor chunks, many small ones). Seeded: the same bytes every run.

Used when the source maps work's own `bench/sourcemaps_fixture.make_bundles` is not available.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WORDS = (
    "user",
    "cart",
    "item",
    "price",
    "render",
    "state",
    "props",
    "fetch",
    "config",
    "route",
    "session",
    "token",
    "payload",
    "result",
    "handler",
    "event",
    "value",
    "index",
    "options",
    "request",
    "response",
    "module",
    "loader",
    "cache",
    "store",
    "dispatch",
    "action",
    "reducer",
)
LINE_BYTES = 16_000


def vlq(value: int) -> str:
    """Base64 VLQ of one signed integer (the source map v3 encoding)."""
    v = (-value << 1) | 1 if value < 0 else value << 1
    out = ""
    while True:
        digit = v & 31
        v >>= 5
        out += B64[digit | (32 if v else 0)]
        if not v:
            return out


def _sizes(count: int, total_bytes: int, rng: random.Random) -> list[int]:
    weights = [rng.paretovariate(2.0) for _ in range(count)]
    scale = total_bytes / sum(weights)
    return [max(2_000, int(w * scale)) for w in weights]


def _bundle(index: int, target: int, rng: random.Random) -> tuple[bytes, bytes]:
    """One (js, map) pair of about `target` bytes together."""
    name = f"chunk-{index:04d}.js"
    n_sources = rng.randint(1, 4)
    sources = [
        f"webpack://app/./src/feature{index}/{WORDS[(index + s) % len(WORDS)]}.ts"
        for s in range(n_sources)
    ]
    src_lines: list[list[str]] = [[] for _ in sources]
    names: list[str] = []
    name_ix: dict[str, int] = {}
    js_lines: list[str] = [
        f'"use strict";(self.webpackChunkapp=self.webpackChunkapp||[]).push([[{index}],{{'
    ]
    map_lines: list[str] = [""]
    line, segs = "", []
    state = [0, 0, 0, 0]  # previous source, orig line, orig col, name (relative encoding)
    size = 0
    stmt = 0
    while size < target:
        s = rng.randrange(n_sources)
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        ident = f"{a}{b.title()}{stmt}"
        n = rng.randrange(1000)
        original = f"  const {ident} = compute{b.title()}({a}, {n}); // {a} {b}"
        orig_line, orig_col = len(src_lines[s]) + 1, 8  # line 0 is the wrapper
        src_lines[s].append(original)
        short = f"{B64[stmt % 52]}{stmt // 52}"
        gen = f"var {short}=c{b[:2]}({a[:2]},{n});"
        if ident not in name_ix:
            name_ix[ident] = len(names)
            names.append(ident)
        gcol = len(line)
        prev_gcol = segs[-1][0] if segs else 0
        ni = name_ix[ident]
        segs.append(
            (
                gcol,
                vlq(gcol - prev_gcol)
                + vlq(s - state[0])
                + vlq(orig_line - state[1])
                + vlq(orig_col - state[2])
                + vlq(ni - state[3]),
            )
        )
        state = [s, orig_line, orig_col, ni]
        line += gen
        size += len(gen) * 2 + len(original) + len(segs[-1][1]) + len(ident) // 4
        stmt += 1
        if len(line) > LINE_BYTES:
            js_lines.append(line)
            map_lines.append(",".join(seg for _, seg in segs))
            line, segs = "", []
    js_lines.append(line)
    map_lines.append(",".join(seg for _, seg in segs))
    js_lines.append("}]);")
    js_lines.append(f"//# sourceMappingURL={name}.map")
    source_map = {
        "version": 3,
        "file": name,
        "sources": sources,
        "sourcesContent": [
            "export function run() {\n" + "\n".join(lines) + "\n}\n" for lines in src_lines
        ],
        "names": names,
        "mappings": ";".join(map_lines),
        "sourceRoot": "",
    }
    return ("\n".join(js_lines) + "\n").encode(), json.dumps(source_map).encode()


def make_js_bundles(directory: Path, count: int, total_bytes: int, seed: int = 0) -> list[Path]:
    """Write `count` bundles (+ maps) of about `total_bytes` in all under `directory`."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, target in enumerate(_sizes(count, total_bytes, rng)):
        js, source_map = _bundle(index, target, random.Random(seed * 100_003 + index))
        path = directory / f"chunk-{index:04d}.js"
        path.write_bytes(js)
        (directory / f"chunk-{index:04d}.js.map").write_bytes(source_map)
        paths.append(path)
    return paths
