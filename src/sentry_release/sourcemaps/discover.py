"""Find bundles and maps, and tie each bundle to its map the way sentry-cli does.

Walking: extensions, `--ignore` globs and a `.gitignore`-style ignore file, hidden entries
skipped (as sentry-cli's walker does). Association: the last `//# sourceMappingURL=` comment
(external path or data URL) wins; without one (or with a remote URL) the sibling map is guessed
by name (`app.min.js` -> `app.map`, `app.min.js.map`, `app.js.map`, `app.min.map`), but only when
exactly one bundle guesses that map and no bundle names it explicitly.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr
from urllib.parse import urlsplit

from sentry_release.errors import ConfigError
from sentry_release.sourcemaps.paths import FileAccess

DATA_PREAMBLE = "data:application/json;base64,"
JS_EXTENSIONS = ("js", "cjs", "mjs")
_XSSI_PREFIX = b")]}'"
_SPACE = re.compile(rb"\s*")  # what bytes.lstrip() strips: ASCII space, \t \n \r \v \f
# inject's temporary files (`.app.js.sentry-release-k3j2.tmp`): never discovered, swept by inject
TEMP_MARK = ".sentry-release-"
TEMP_RE = re.compile(r"^\..+\.sentry-release-[A-Za-z0-9_]+\.tmp$")


@dataclass(frozen=True)
class FoundFile:
    """A file under one of the searched paths."""

    path: Path
    rel: str  # path relative to the search root, with `/`
    root: Path
    mode: int = stat.S_IFREG  # from stat(); 0 when it cannot be stat'ed (a dangling link)


# --- ignore rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _glob_regex(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = glob[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


class IgnoreRules:
    """gitignore semantics over paths relative to a root: last matching rule wins."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.rules: list[_Rule] = []
        for raw in patterns:
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            prefix = "" if anchored else "(?:.*/)?"
            self.rules.append(_Rule(re.compile(f"^{prefix}{_glob_regex(line)}$"), negate, dir_only))

    def __bool__(self) -> bool:
        return bool(self.rules)

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether `rel` itself is excluded (callers check parents while walking)."""
        verdict = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(rel):
                verdict = not rule.negate
        return verdict


def load_ignore_rules(globs: Sequence[str], ignore_file: Path | None) -> IgnoreRules:
    """`--ignore` globs plus the lines of `--ignore-file` (missing file: a config error)."""
    lines = list(globs)
    if ignore_file is not None:
        try:
            lines += ignore_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"cannot read ignore file {ignore_file}: {exc.strerror}: check --ignore-file"
            ) from None
    return IgnoreRules(lines)


def mode_of(path: Path) -> int:
    """`st_mode` following links, 0 when it cannot be stat'ed (a dangling link)."""
    try:
        return path.stat().st_mode
    except (OSError, ValueError):
        return 0


def walk(
    paths: Sequence[Path],
    extensions: Sequence[str],
    ignore: IgnoreRules | None = None,
    *,
    access: FileAccess | None = None,
) -> list[FoundFile]:
    """Files under `paths` with one of `extensions`, sorted, hidden entries skipped.

    A file given directly is taken as is (like sentry-cli: no extension or ignore check).
    With `access`, every file found under a directory must resolve inside one of its roots (a
    symlink in `dist/` pointing at `~/.ssh` is refused, exit 2), so nothing outside is read.
    Each file's `mode` is recorded so FIFOs and devices are refused before anything opens them.
    """
    suffixes = tuple("." + e.lstrip(".") for e in extensions)
    found: list[FoundFile] = []
    seen: set[str] = set()
    for path in paths:
        named = os.path.realpath(path)  # `dist` and `./dist/` are one folder, walked once
        if named in seen:
            continue
        seen.add(named)
        if not path.exists():
            raise ConfigError(f"source map path does not exist: {path}")
        if not path.is_dir():
            if not TEMP_RE.match(path.name):
                found.append(FoundFile(path, path.name, path.parent, mode_of(path)))
            continue
        start = len(found)
        linked: list[Path] = []  # files reached through a symlink: only links lead out
        _walk_dir(path, path, "", False, suffixes, ignore, set(), found, linked)
        if access is None:
            continue
        every = [f.path for f in found[start:] if f.mode]  # a dangling link is never read
        outside = access.first_outside(path, linked, every)
        if outside is not None:
            raise ConfigError(
                f"source map file {str(outside)!r} leads through a symlink outside the "
                "working directory and the paths given: remove the link or exclude it with "
                "--ignore"
            )
    found.sort(key=lambda f: (str(f.root), f.rel))
    return found


def _walk_dir(
    root: Path,
    folder: Path,
    rel_dir: str,
    via_link: bool,
    suffixes: tuple[str, ...],
    ignore: IgnoreRules | None,
    visited: set[tuple[int, int]],
    found: list[FoundFile],
    linked: list[Path],
) -> None:
    """One folder of `walk` (links followed, each folder once); `via_link`: reached by one."""
    st = folder.stat()
    if (st.st_dev, st.st_ino) in visited:  # a symlink loop: walk each dir once
        return
    visited.add((st.st_dev, st.st_ino))
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:  # unreadable: skipped, as os.walk does
        return
    subdirs: list[tuple[os.DirEntry[str], bool]] = []
    for entry in entries:
        name = entry.name
        try:
            is_dir = entry.is_dir()  # follows links, as os.walk(followlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            if not name.startswith(".") and not (ignore and ignore.ignored(rel_dir + name, True)):
                subdirs.append((entry, via_link or entry.is_symlink()))
            continue
        rel = rel_dir + name
        if name.startswith(".") or (suffixes and not name.endswith(suffixes)):
            continue
        if ignore and ignore.ignored(rel, False):
            continue
        path = folder / name
        mode = mode_of(path)
        found.append(FoundFile(path, rel, root, mode))
        if mode and (via_link or entry.is_symlink()):
            linked.append(path)
    for entry, link in subdirs:
        _walk_dir(
            root,
            folder / entry.name,
            f"{rel_dir}{entry.name}/",
            link,
            suffixes,
            ignore,
            visited,
            found,
            linked,
        )


# --- content ----------------------------------------------------------------------------------


def is_sourcemap(data: bytes) -> bool:
    """Content sniffing as sentry-cli does: a JSON object with `mappings` or `sections`.

    Leading whitespace is skipped by offset, not stripped: a bundle that starts with a newline
    is not copied whole to be told apart from a map."""
    at = _after_space(data, 0)
    if data.startswith(_XSSI_PREFIX, at):
        newline = data.find(b"\n", at)
        at = len(data) if newline == -1 else _after_space(data, newline + 1)
    if not data.startswith(b"{", at):
        return False
    head = data[at:] if at else data
    if b'"mappings"' not in data and b'"sections"' not in data:
        return False
    try:
        parsed = json.loads(head)
    except ValueError:
        return False
    return isinstance(parsed, dict) and ("mappings" in parsed or "sections" in parsed)


def _after_space(data: bytes, at: int) -> int:
    """The offset of the first byte from `at` that `bytes.lstrip()` would keep."""
    match = _SPACE.match(data, at)
    return match.end() if match is not None else at


def _last_comment(text: str | bytes, key: str) -> str | None:
    """Value of the last `//# key=` / `//@ key=` comment that starts a line.

    On a file's bytes, the same as on their text decoded with `replace`, without the text: the
    delimiters are ASCII, which never belongs to a replaced sequence, so only the value is
    decoded (a 1 GB bundle is searched without a second copy of it, #23)."""
    if isinstance(text, bytes):
        raw = _raw_comment(text, f"{key}=".encode("ascii"), (b"//# ", b"//@ "), b"\r\n", b"\n")
        return raw.decode("utf-8", "replace").strip() if raw is not None else None
    value = _raw_comment(text, f"{key}=", ("//# ", "//@ "), "\r\n", "\n")
    return value.strip() if value is not None else None


def _raw_comment(
    text: AnyStr, assign: AnyStr, marks: tuple[AnyStr, AnyStr], ends: AnyStr, newline: AnyStr
) -> AnyStr | None:
    """`_last_comment` on `str` or `bytes` alike: the value after `assign`, unstripped."""
    end = len(text)
    while True:
        at = text.rfind(assign, 0, end)
        if at < 4:
            return None
        start = at - 4
        if text[start:at] in marks and (start == 0 or text[start - 1 : start] in ends):
            stop = text.find(newline, at)
            return text[at + len(assign) : stop if stop != -1 else len(text)]
        end = at


def sourcemap_location(text: str | bytes) -> str | None:
    """The sourceMappingURL of a bundle (its text or its bytes), if any."""
    return _last_comment(text, "sourceMappingURL")


def debug_id_of_js(text: str | bytes) -> str | None:
    """The `//# debugId=` a bundle (its text or its bytes) already carries, if any."""
    value = _last_comment(text, "debugId")
    return value.lower() if value and _looks_like_uuid(value) else None


def debug_id_of_map(parsed: object) -> str | None:
    """`debugId` (3.x) or `debug_id` (2.x) of a parsed map."""
    if not isinstance(parsed, dict):
        return None
    for key in ("debugId", "debug_id"):
        value = parsed.get(key)
        if isinstance(value, str) and _looks_like_uuid(value):
            return value.lower()
    return None


def _looks_like_uuid(value: str) -> bool:
    return (
        re.fullmatch(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}", value) is not None
    )


def is_remote(location: str) -> bool:
    """A URL with a scheme other than data:, or an absolute URL path that is not a local file."""
    if location.startswith("data:"):
        return False
    parts = urlsplit(location)
    if parts.scheme and len(parts.scheme) > 1 and parts.netloc:
        return True
    return location.startswith("/") and not Path(location).exists()


# --- association ------------------------------------------------------------------------------


def normalize_url(source_url: str, ref: str) -> str:
    """`dir/app.js` + `../maps/app.js.map` -> `maps/app.js.map`; leading `./` kept."""
    base = source_url.rsplit("/", 1)[0] if "/" in source_url else ""
    joined = ref if ref.startswith("/") else (f"{base}/{ref}" if base else ref)
    scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", joined)
    if scheme:  # app:///static/x.js: normalise the path only
        rest = posixpath.normpath(joined[scheme.end() :] or "/")
        return scheme.group(0) + rest
    cut = 0
    while joined.startswith("./", cut):
        cut += 2
    rest = posixpath.normpath(joined[cut:]) if joined[cut:] else ""
    return joined[:cut] + ("" if rest == "." else rest)


def matching_paths(candidates: Sequence[str], expected: str) -> list[str]:
    """Candidates equal to `expected` or differing in exactly one directory segment."""
    want = [s for s in expected.split("/") if s != "."]
    matches: list[str] = []
    for candidate in candidates:
        have = [s for s in candidate.split("/") if s != "."]
        if have == want:
            return [candidate]
        i = 0
        while i < min(len(have), len(want)) and have[i] == want[i]:
            i += 1
        rest_have, rest_want = have[i + 1 :], want[i + 1 :]
        if rest_have and rest_have == rest_want:
            matches.append(candidate)
    return matches


def guess_candidates(url: str) -> list[tuple[str, str]]:
    """`(full url, reference relative to the bundle)` in sentry-cli's guessing order."""
    path, _, filename = url.rpartition("/")
    basename, dot, ext = filename.partition(".")
    prefix = path + "/" if path else ""
    names = [f"{basename}.map"]
    if dot:
        names.append(f"{basename}.{ext}.map")
        if ext.startswith("min."):
            names.append(f"{basename}.{ext[4:]}.map")
        parts = ext.split(".")
        if len(parts) > 1:
            names.append(".".join([basename, *parts[:-1], "map"]))
    return [(prefix + name, name) for name in names]


@dataclass(frozen=True)
class MapRef:
    """How a bundle refers to its map."""

    reference: str  # as written in the bundle (or guessed, relative to it)
    url: str | None  # the map's url among the found files, None when absent / inline
    inline: bytes | None = None  # decoded data-URL map
    explicit: bool = True


def associate(
    js_urls: Sequence[str], map_urls: Sequence[str], locations: dict[str, str | None]
) -> dict[str, MapRef | None]:
    """Map each bundle url to its map reference (see module docstring)."""
    import base64
    import binascii

    refs: dict[str, MapRef | None] = {}
    map_set = set(map_urls)
    explicit_maps: set[str] = set()
    unlocated: list[str] = []
    for url in js_urls:
        location = locations.get(url)
        if location is None or is_remote(location):
            unlocated.append(url)
            continue
        if location.startswith(DATA_PREAMBLE):
            try:
                inline = base64.b64decode(location[len(DATA_PREAMBLE) :], validate=True)
            except (binascii.Error, ValueError):
                refs[url] = None  # sentry-cli skips a data URL that is not base64
                continue
            refs[url] = MapRef(location, None, inline)
            continue
        normalized = normalize_url(url, location)
        if normalized in map_set:
            target = normalized
        else:
            matches = matching_paths(map_urls, normalized)
            target = matches[0] if len(matches) == 1 else normalized
        explicit_maps.add(target)
        refs[url] = MapRef(location, target if target in map_set else None)
    available = map_set
    guessed: dict[str, list[tuple[str, str]]] = {}
    for url in unlocated:
        for full, relative in guess_candidates(url):
            if full in available:
                if full not in explicit_maps:
                    guessed.setdefault(full, []).append((url, relative))
                else:
                    refs[url] = None
                break
        else:
            refs[url] = None
    for full, users in guessed.items():
        for url, relative in users:
            refs[url] = MapRef(relative, full, explicit=False) if len(users) == 1 else None
    return refs
