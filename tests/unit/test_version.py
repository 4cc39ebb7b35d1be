"""Release name derivation: precedence, prefixes, tags, CI env, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentry_release.errors import ConfigError
from sentry_release.version import derive_version, pick_tag, read_event, validate_release_name

SHA = "a" * 40
PR_SHA = "b" * 40


@pytest.mark.parametrize(
    ("kwargs", "expected", "source"),
    [
        ({"explicit": "1.0"}, "1.0", "explicit"),
        ({"explicit": "refs/tags/v2.0"}, "v2.0", "explicit"),
        ({"explicit": "1.0", "environ": {"SENTRY_RELEASE": "2.0"}}, "1.0", "explicit"),
        ({"environ": {"SENTRY_RELEASE": "2.0"}, "tags_at_head": ["v9"]}, "2.0", "SENTRY_RELEASE"),
        (
            {
                "environ": {"GITHUB_REF": "refs/tags/v3.1", "GITHUB_REF_TYPE": "tag"},
                "tags_at_head": ["v9"],
            },
            "v3.1",
            "GITHUB_REF tag",
        ),
        ({"environ": {"GITHUB_REF": "refs/heads/main"}}, SHA, "HEAD commit"),
        (
            {
                "environ": {"GITHUB_EVENT_NAME": "pull_request"},
                "event": {"pull_request": {"head": {"sha": PR_SHA}}},
            },
            PR_SHA,
            "pull request head",
        ),
        ({"tags_at_head": ["v1.9", "v1.10", "v1.2"]}, "v1.10", "git tag at HEAD"),
        (
            {"tags_at_head": ["api@2.0", "web@1.4.0"], "tag_pattern": "web@*"},
            "web@1.4.0",
            "git tag at HEAD",
        ),
        ({"tags_at_head": ["api@2.0"], "tag_pattern": "web@*"}, SHA, "HEAD commit"),
        ({"prefix": "web@"}, "web@" + SHA, "HEAD commit"),
        ({"explicit": "web@1.0", "prefix": "web@"}, "web@1.0", "explicit"),
        ({"explicit": "1.0", "prefix": "web@"}, "web@1.0", "explicit"),
    ],
)
def test_precedence(kwargs: dict[str, object], expected: str, source: str) -> None:
    args: dict[str, object] = {"explicit": None, "environ": {}, "head_sha": SHA}
    args.update(kwargs)
    proposed = derive_version(**args)  # type: ignore[arg-type]
    assert (proposed.version, proposed.source) == (expected, source)


def test_no_source_at_all_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot derive a release name"):
        derive_version(explicit=None, environ={}, head_sha=None)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" 1.0", "leading or trailing whitespace"),
        ("1.0 ", "leading or trailing whitespace"),
        (".", "reserved"),
        ("..", "reserved"),
        ("latest", "reserved"),
        ("a/b", "'/'"),
        ("a\\b", "'\\\\'"),
        ("a\nb", "'\\n'"),
        ("a\tb", "'\\t'"),
        ("x" * 201, "at most 200"),
    ],
)
def test_invalid_names_fail_with_the_rule(name: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_release_name(name)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value).replace("'\\n'", "")


@pytest.mark.parametrize("name", ["1.0", "web@1.2.3", "x" * 200, "my app 1.0", "latest-1", "v1+b"])
def test_valid_names_pass(name: str) -> None:
    assert validate_release_name(name) == name


def test_pick_tag_orders_numerically_and_filters() -> None:
    assert pick_tag(["v1.9.0", "v1.10.0"], None) == "v1.10.0"
    assert pick_tag(["web@1.0", "api@3.0"], "web@*") == "web@1.0"
    assert pick_tag([], None) is None


def test_read_event(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"pull_request": {"head": {"sha": PR_SHA}}}))
    assert read_event({"GITHUB_EVENT_PATH": str(path)}) == {
        "pull_request": {"head": {"sha": PR_SHA}}
    }
    assert read_event({"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}) is None
    assert read_event({}) is None
