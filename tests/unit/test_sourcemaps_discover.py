"""Discovery: extensions, ignore globs and files, hidden entries, map association."""

from __future__ import annotations

from pathlib import Path

from sentry_release.sourcemaps.bundle import BundleFile, bundle_path, spool_bundle
from sentry_release.sourcemaps.discover import (
    IgnoreRules,
    associate,
    guess_candidates,
    normalize_url,
    sourcemap_location,
    walk,
)


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def rels(root: Path, exts: tuple[str, ...], rules: IgnoreRules | None = None) -> list[str]:
    return [f.rel for f in walk([root], exts, rules)]


def test_walk_filters_extensions_and_skips_hidden(tmp_path: Path) -> None:
    touch(tmp_path, "a.js", "a.js.map", "b.css", "sub/c.mjs", ".cache/d.js", "sub/.e.js")
    assert rels(tmp_path, ("js", "mjs", "map")) == ["a.js", "a.js.map", "sub/c.mjs"]
    assert rels(tmp_path, ("css",)) == ["b.css"]


def test_gitignore_style_rules(tmp_path: Path) -> None:
    touch(
        tmp_path, "a.js", "vendor/v.js", "x/vendor/w.js", "keep/k.js", "keep/drop.js", "t.test.js"
    )
    rules = IgnoreRules(["# comment", "vendor/", "*.test.js", "/keep/*", "!/keep/k.js"])
    assert rels(tmp_path, ("js",), rules) == ["a.js", "keep/k.js"]


def test_anchored_and_double_star_globs() -> None:
    rules = IgnoreRules(["/top.js", "**/deep/*.map"])
    assert rules.ignored("top.js", False) and not rules.ignored("x/top.js", False)
    assert rules.ignored("a/b/deep/m.map", False) and rules.ignored("deep/m.map", False)


def test_location_is_the_last_line_comment() -> None:
    text = (
        'var s="//# sourceMappingURL=fake";\n'
        "//# sourceMappingURL=a.js.map\n//@ sourceMappingURL=b.js.map"
    )
    assert sourcemap_location(text) == "b.js.map"
    assert sourcemap_location("x();") is None


def test_guessing_order_like_sentry_cli() -> None:
    assert [r for _f, r in guess_candidates("d/app.min.js")] == [
        "app.map",
        "app.min.js.map",
        "app.js.map",
        "app.min.map",
    ]


def test_association_explicit_guessed_ambiguous_and_data_urls() -> None:
    refs = associate(
        ["d/a.js", "d/b.min.js", "d/c.js", "d/c.mjs", "d/e.js"],
        ["d/b.min.js.map", "d/c.map", "m/a.js.map"],
        {"d/a.js": "../m/a.js.map", "d/e.js": "data:application/json;base64,e30="},
    )
    assert refs["d/a.js"] is not None and refs["d/a.js"].url == "m/a.js.map"
    assert refs["d/b.min.js"] is not None and refs["d/b.min.js"].reference == "b.min.js.map"
    assert refs["d/c.js"] is None and refs["d/c.mjs"] is None  # both guess d/c.map
    assert refs["d/e.js"] is not None and refs["d/e.js"].inline == b"{}"
    assert normalize_url("./d/a.js", "x.map") == "./d/x.map"


def test_bundle_is_deterministic_and_paths_like_sentry_cli() -> None:
    files = [
        BundleFile("~/b.js", "minified_source", b"b", {"debug-id": "x"}),
        BundleFile("~/a.js", "minified_source", b"a"),
    ]
    built = []
    for order in (files, list(reversed(files))):
        spooled, debug_id = spool_bundle(order, org="o", projects=["p"], release="1", dist=None)
        with spooled:
            built.append((spooled.read(0, spooled.size), debug_id))
    one, two = built
    assert one == two and one[0][:4] == b"SYSB"
    assert bundle_path("~/dist/app.js") == "files/_/_/dist/app.js"
    assert bundle_path("https://cdn.example.com/x.js") == "files/https/cdn.example.com/x.js"


def test_symlink_loops_are_walked_once(tmp_path: Path) -> None:
    touch(tmp_path, "a/x.js")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    assert rels(tmp_path, ("js",)) == ["a/x.js"]


def test_walk_resolves_links_only_and_refuses_those_leading_out(tmp_path: Path) -> None:
    import pytest

    from sentry_release.errors import ConfigError
    from sentry_release.sourcemaps.discover import walk
    from sentry_release.sourcemaps.paths import FileAccess

    root, outside = tmp_path / "work", tmp_path / "outside"
    touch(root, "dist/a.js")
    touch(root, "shared/deep/b.js")
    touch(outside, "nested/deep/secret.js")
    (root / "dist" / "in").symlink_to(root / "shared", target_is_directory=True)
    (root / "dist" / "c.js").symlink_to(root / "dist" / "a.js")
    access = FileAccess.for_paths(root, ["dist"])
    found = walk([root / "dist"], ["js"], access=access)
    assert [f.rel for f in found] == ["a.js", "c.js", "in/deep/b.js"]
    # a link to a folder outside: the real folders below it are outside too
    (root / "dist" / "out").symlink_to(outside / "nested", target_is_directory=True)
    with pytest.raises(ConfigError, match="out/deep/secret.js' leads through a symlink outside"):
        walk([root / "dist"], ["js"], access=access)
    (root / "dist" / "out").unlink()
    (root / "dist" / "d.js").symlink_to(outside / "nested" / "deep" / "secret.js")
    with pytest.raises(ConfigError, match="d.js' leads through a symlink outside"):
        walk([root / "dist"], ["js"], access=access)
