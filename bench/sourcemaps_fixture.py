"""Deterministic JavaScript bundles with real-shaped source maps, for benchmarks and tests.

`make_bundles(dir, count, total_bytes, seed)` writes `count` minified-looking bundles
(`chunk-NNNN.min.js` with a `//# sourceMappingURL=` comment) and their maps (`version`,
`sources`, `sourcesContent`, `names`, VLQ `mappings` that decode to valid positions), about
`total_bytes` in all. Same arguments, same bytes.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from sentry_release.sourcemaps.vlq import encode_mappings  # noqa: E402

WORDS = [
    "user",
    "item",
    "cart",
    "price",
    "total",
    "render",
    "fetch",
    "state",
    "props",
    "value",
    "index",
    "count",
    "handle",
    "error",
    "result",
    "config",
    "token",
    "event",
    "route",
    "store",
    "query",
    "cache",
    "layout",
    "widget",
    "order",
    "amount",
]
STATEMENTS = (
    "const {a}={b}.{c}({d});",
    'if(!{a})throw new Error("{c} failed");',
    "return {a}+{b};",
    "{a}.{c}=function({d}){{return {d}*{b}}};",
    "for(const {d} of {a}){{{b}+={d}.{c}}}",
    "console.log(`{c}=${{{a}}}`);",
)


def _source_text(rng: random.Random, lines: int) -> str:
    out = []
    for i in range(lines):
        a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
        out.append(f"  const {a}{i} = compute{c.title()}({b}, {i});")
    return "export function main() {\n" + "\n".join(out) + "\n}\n"


def make_bundle(rng: random.Random, index: int, target: int) -> tuple[bytes, bytes]:
    """One bundle and its map, each roughly half of `target` bytes."""
    names = [f"{w}{i}" for i, w in enumerate(rng.sample(WORDS, 12))]
    sources = [f"../src/module{index}_{k}.js" for k in range(3)]
    contents = [_source_text(rng, max(8, target // 400)) for _ in sources]
    js_lines: list[str] = []
    mappings: list[list[tuple[int, ...]]] = []
    size = 0
    while size < target // 2:
        col = 0
        line: list[str] = []
        segs: list[tuple[int, ...]] = []
        for _ in range(rng.randint(20, 60)):
            a, b, d = (rng.choice(names) for _ in range(3))
            c = rng.choice(WORDS)
            text = rng.choice(STATEMENTS).format(a=a, b=b, c=c, d=d)
            src = rng.randrange(len(sources))
            name = names.index(a)
            segs.append((col, src, rng.randrange(1, 40), rng.randrange(0, 30), name))
            line.append(text)
            col += len(text)
        js_lines.append("".join(line))
        mappings.append(segs)
        size += col + 1
    map_name = f"chunk-{index:04d}.min.js.map"
    js = "\n".join(js_lines) + f"\n//# sourceMappingURL={map_name}\n"
    source_map = {
        "version": 3,
        "file": f"chunk-{index:04d}.min.js",
        "sources": sources,
        "sourcesContent": contents,
        "names": names,
        "mappings": encode_mappings(mappings),
    }
    return js.encode(), json.dumps(source_map, separators=(",", ":")).encode()


def make_bundles(directory: Path, count: int, total_bytes: int, seed: int = 0) -> list[Path]:
    """Write `count` bundles + maps (about `total_bytes`) under `directory`; return the JS."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    per_file = max(2_000, total_bytes // max(count, 1))
    paths = []
    for index in range(count):
        js, source_map = make_bundle(rng, index, per_file)
        sub = directory / f"part{index % 10}"
        sub.mkdir(exist_ok=True)
        js_path = sub / f"chunk-{index:04d}.min.js"
        js_path.write_bytes(js)
        (sub / f"chunk-{index:04d}.min.js.map").write_bytes(source_map)
        paths.append(js_path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-fixture")
    made = make_bundles(target, int(sys.argv[2]) if len(sys.argv) > 2 else 2000, 100_000_000)
    print(f"wrote {len(made)} bundles under {target}")
