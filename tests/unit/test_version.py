"""Release name derivation: precedence, prefixes, tags, CI env, validation."""

from __future__ import annotations

import json

import pytest

from sentry_release.errors import ConfigError
from sentry_release.version import (
    _parse_toml_tables,
    derive_version,
    inputs_needed,
    parse_event,
    pick_tag,
    validate_release_name,
)

SHA = "a" * 40
PR_SHA = "b" * 40
PR_EVENT = {"pull_request": {"head": {"sha": PR_SHA}}}
GRADLE = (
    'android {\n  defaultConfig {\n    applicationId "io.acme.app"\n    versionName "2.1"\n  }\n}\n'
)
PYPROJECT = (
    '[build-system]\nrequires = ["x"]\n\n'
    '[project]\nname = "acme-api"\nversion = "0.4.0"  # bumped\n'
)
POETRY = "[tool.poetry]\nname = 'legacy'\nversion = '2.0'\n"


@pytest.mark.parametrize(
    ("kwargs", "expected", "source"),
    [
        ({"explicit": "1.0"}, "1.0", "explicit"),
        ({"explicit": "refs/tags/v2.0"}, "v2.0", "explicit"),
        ({"explicit": "1.0", "environ": {"SENTRY_RELEASE": "2.0"}}, "1.0", "explicit"),
        ({"environ": {"SENTRY_RELEASE": "2.0"}, "tags_at_head": ["v9"]}, "2.0", "SENTRY_RELEASE"),
        # sentry-cli's propose-version: a pushed tag or a tag at HEAD does not name the release
        (
            {"environ": {"GITHUB_REF": "refs/tags/v3.1", "GITHUB_REF_TYPE": "tag"}},
            SHA,
            "HEAD commit",
        ),
        ({"tags_at_head": ["v1.9", "v1.10"]}, SHA, "HEAD commit"),
        ({"event": {"pull_request": {"head": {"sha": PR_SHA}}}}, PR_SHA, "pull request head"),
        ({"event": {"pull_request": {"head": {"sha": "not-a-sha"}}}}, SHA, "HEAD commit"),
        ({"event": {"ref": "refs/heads/main"}}, SHA, "HEAD commit"),
        ({"environ": {"CIRCLE_SHA1": "c1"}, "event": PR_EVENT}, "c1", "CIRCLE_SHA1 (CircleCI)"),
        (
            {"environ": {"SOURCE_VERSION": "h1", "CIRCLE_SHA1": "c1"}},
            "h1",
            "SOURCE_VERSION (Heroku)",
        ),
        (
            {"environ": {"GAE_DEPLOYMENT_ID": "g1"}, "event": PR_EVENT},
            "g1",
            "GAE_DEPLOYMENT_ID (App Engine)",
        ),
        (
            {"gradle_app": GRADLE, "environ": {"GAE_DEPLOYMENT_ID": "g1"}},
            "io.acme.app@2.1",
            "app/build.gradle",
        ),
        ({"environ": {"CI_COMMIT_SHA": PR_SHA, "GITLAB_CI": "true"}}, SHA, "HEAD commit"),
        # opt-in: tags
        (
            {"tags_at_head": ["api@2.0", "web@1.4.0"], "tag_pattern": "web@*"},
            "web@1.4.0",
            "git tag at HEAD",
        ),
        ({"tags_at_head": ["api@2.0"], "tag_pattern": "web@*"}, SHA, "HEAD commit"),
        ({"tags_at_head": ["v1.9", "v1.10"], "release_from": "tag"}, "v1.10", "git tag at HEAD"),
        (
            {"tags_at_head": ["latest", "nightly", "release/1.0"], "release_from": "tag"},
            SHA,
            "HEAD commit",
        ),
        (
            {
                "environ": {"GITHUB_REF": "refs/tags/v3.1"},
                "tags_at_head": ["v9", "v3.1"],
                "release_from": "tag",
            },
            "v3.1",
            "pushed tag (GITHUB_REF)",
        ),
        # opt-in: describe, package
        (
            {"describe": "v1.0-3-gabc1234", "release_from": "describe"},
            "v1.0-3-gabc1234",
            "git describe",
        ),
        (
            {"package_json": '{"name": "shop", "version": "1.2.3"}', "release_from": "package"},
            "shop@1.2.3",
            "package.json",
        ),
        (
            {"pyproject_toml": PYPROJECT, "release_from": "package"},
            "acme-api@0.4.0",
            "pyproject.toml",
        ),
        ({"pyproject_toml": POETRY, "release_from": "package"}, "legacy@2.0", "pyproject.toml"),
        (
            {"environ": {"SENTRY_RELEASE": "2.0"}, "release_from": "package"},
            "2.0",
            "SENTRY_RELEASE",
        ),
        # prefixes
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


def test_several_matching_tags_warn_naming_the_one_taken() -> None:
    proposed = derive_version(
        explicit=None, environ={}, head_sha=SHA, tags_at_head=["v1.2", "v1.10"], release_from="tag"
    )
    assert proposed.version == "v1.10"
    assert proposed.warnings == (
        "several tags at HEAD match a version (v1.2.3, web@1.2.3): taking v1.10 (the highest), "
        "not v1.2; narrow tag_pattern to choose",
    )


def test_a_matching_tag_sentry_refuses_is_skipped_with_a_warning() -> None:
    proposed = derive_version(
        explicit=None, environ={}, head_sha=SHA, tags_at_head=["web/1.0"], tag_pattern="web*"
    )
    assert proposed.version == SHA
    assert any("web/1.0" in w and "skipped" in w for w in proposed.warnings)
    assert any("no tag at HEAD matches" in w for w in proposed.warnings)


def test_one_tag_or_the_default_scheme_warns_nothing() -> None:
    assert derive_version(explicit=None, environ={}, head_sha=SHA).warnings == ()
    one = derive_version(
        explicit=None, environ={}, head_sha=SHA, tags_at_head=["v1"], release_from="tag"
    )
    assert (one.version, one.warnings) == ("v1", ())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"release_from": "package"}, "needs a package.json or pyproject.toml"),
        ({"release_from": "package", "package_json": "{"}, "package.json is not valid JSON"),
        ({"release_from": "package", "package_json": '{"name": "x"}'}, "no name and version"),
        (
            {
                "release_from": "package",
                "pyproject_toml": '[project]\nname = "x"\ndynamic = ["version"]\n',
            },
            "dynamic version",
        ),
        (
            {"release_from": "package", "package_json": '{"name": "@acme/web", "version": "1.0"}'},
            "'/'",
        ),
        ({"release_from": "describe"}, "git describe found no commit"),
        ({"release_from": "semver"}, "release_from must be one of"),
    ],
)
def test_scheme_problems_are_one_line_config_errors(
    kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigError) as err:
        derive_version(explicit=None, environ={}, head_sha=SHA, **kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "needed"),
    [
        ({"explicit": "1.0"}, set()),
        ({"environ": {"SENTRY_RELEASE": "1.0"}}, set()),
        ({}, {"event", "gradle", "head"}),
        ({"environ": {"CIRCLE_SHA1": "c"}}, set()),
        ({"tag_pattern": "web@*"}, {"tags", "event", "gradle", "head"}),
        ({"release_from": "describe"}, {"describe"}),
        ({"release_from": "package"}, {"package"}),
    ],
)
def test_inputs_needed_reads_only_what_the_scheme_uses(
    kwargs: dict[str, object], needed: set[str]
) -> None:
    args: dict[str, object] = {"explicit": None, "environ": {}}
    args.update(kwargs)
    assert inputs_needed(**args) == needed  # type: ignore[arg-type]


def test_the_python_310_toml_reader_reads_the_project_table() -> None:
    assert _parse_toml_tables(PYPROJECT)["project"] == {"name": "acme-api", "version": "0.4.0"}
    assert _parse_toml_tables(POETRY)["tool"]["poetry"]["version"] == "2.0"


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
    assert pick_tag(["latest", "nightly", "v1/x"], None) is None
    assert pick_tag(["web@1.0", "api@3.0"], "web@*") == "web@1.0"
    assert pick_tag([], None) is None


def test_parse_event() -> None:
    assert parse_event(json.dumps(PR_EVENT)) == PR_EVENT
    assert parse_event("not json") is None
    assert parse_event("[]") is None
    assert parse_event(None) is None
