"""Bad input: one line naming the problem and the fix, exit 2, no traceback, no request.

Remote refusals (unknown org/project, bad token) are exit 1 with Sentry's own words.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sentry_release.config.build import from_values
from sentry_release.errors import ConfigError
from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, commit, git, make_repo, run_cli

OPTIONS_PATH = f"/api/0/organizations/{ORG}/chunk-upload/"

MISSING = [
    (["new", "1.0"], {"SENTRY_AUTH_TOKEN": None}, "auth token is missing: set SENTRY_AUTH_TOKEN"),
    (["new", "1.0"], {"SENTRY_AUTH_TOKEN": ""}, "auth token is missing: set SENTRY_AUTH_TOKEN"),
    (["new", "1.0"], {"SENTRY_AUTH_TOKEN": "   "}, "auth token is missing: set SENTRY_AUTH_TOKEN"),
    (["new", "1.0"], {"SENTRY_ORG": None}, "organization is missing: set SENTRY_ORG"),
    (["new", "1.0"], {"SENTRY_ORG": ""}, "organization is missing: set SENTRY_ORG"),
    (["finalize", "1.0"], {"SENTRY_ORG": ""}, "organization is missing: set SENTRY_ORG"),
    (["new", "1.0"], {"SENTRY_PROJECT": None}, "project is missing: set SENTRY_PROJECT"),
    (["new", "1.0"], {"SENTRY_PROJECT": ""}, "project is missing: set SENTRY_PROJECT"),
    (["new", "1.0"], {"SENTRY_PROJECT": " , "}, "project is missing: set SENTRY_PROJECT"),
    (["deploy", "1.0"], {}, "environment is missing: set SENTRY_ENVIRONMENT"),
    (["deploy", "1.0", "-e", ""], {}, "environment is missing: set SENTRY_ENVIRONMENT"),
    (["run", "1.0", "--mode", "skip"], {"SENTRY_AUTH_TOKEN": ""}, "auth token is missing"),
]

RELEASE_NAMES = [
    ("a/b", "contains '/'"),
    ("a\\b", "contains '\\\\'"),
    ("a\tb", "contains '\\t'"),
    ("a\nb", "contains '\\n'"),
    (".", "is reserved by Sentry"),
    ("..", "is reserved by Sentry"),
    ("latest", "is reserved by Sentry"),
    (" 1.0", "leading or trailing whitespace"),
    ("1.0 ", "leading or trailing whitespace"),
    (" ", "release name is empty"),
    ("x" * 201, "Sentry allows at most 200"),
]

VALUES = [
    (["new", "1.0", "--timeout", "abc"], "timeout must be a duration like 300, 300s, 5m or 1h"),
    (["new", "1.0", "--timeout", "-5"], "timeout must not be negative"),
    (["new", "1.0", "--retry-budget", "soon"], "retry_budget must be a duration"),
    (["gate", "1.0", "-e", "prod", "--grace", "-5"], "grace must not be negative, got '-5'"),
    (["gate", "1.0", "-e", "prod", "--window", "10 minutes"], "window must be a duration"),
    (["gate", "1.0", "-e", "prod", "--poll", "5x"], "poll must be a duration"),
    (["run", "1.0", "--mode", "sometimes"], "Invalid value for '--mode': 'sometimes' is not one"),
    (["deploy", "1.0", "-e", "prod", "--started", "yesterday"], "ISO 8601"),
    (["new", "1.0", "--ca-bundle", "missing-ca.pem"], "CA bundle not found: missing-ca.pem"),
    (["new", "1.0", "--cwd", "no/such/dir"], "working directory does not exist"),
    (["run", "1.0", "--mode", "manual"], "set_commits is manual but no commit was given"),
    (["run", "1.0", "--initial-depth", "many"], "'many' is not a valid integer"),
]


def assert_refused(
    done: object, server: DevServer, message: str, *, options_read: bool = False
) -> None:
    """Exit 2, exactly one line holding `message`, no traceback, nothing sent (with
    `options_read`: nothing but the chunk-upload options GET, which upload-sourcemaps sends
    while it reads the files, #16)."""
    assert done.returncode == 2, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    lines = done.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, done.stderr  # type: ignore[attr-defined]
    assert lines[0].startswith("error: ")
    assert message in lines[0], lines[0]
    assert "Traceback" not in done.stderr  # type: ignore[attr-defined]
    sent = server.store.requests
    if options_read:
        sent = [r for r in sent if (r["method"], r["path"]) != ("GET", OPTIONS_PATH)]
    assert sent == []


@pytest.mark.parametrize(("args", "changes", "message"), MISSING)
def test_missing_or_empty_connection_values(
    server: DevServer,
    env: dict[str, str],
    tmp_path: Path,
    args: list[str],
    changes: dict[str, str | None],
    message: str,
) -> None:
    for key, value in changes.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    assert_refused(run_cli(args, env, cwd=tmp_path), server, message)


@pytest.mark.parametrize(
    ("name", "message"), RELEASE_NAMES, ids=[repr(n)[:12] for n, _ in RELEASE_NAMES]
)
def test_invalid_release_names(
    server: DevServer, env: dict[str, str], tmp_path: Path, name: str, message: str
) -> None:
    assert_refused(run_cli(["new", name], env, cwd=tmp_path), server, message)


@pytest.mark.parametrize(
    "args", [["finalize", "a/b"], ["deploy", "latest", "-e", "prod"], ["info", ".."]]
)
def test_every_command_checks_the_release_name(
    server: DevServer, env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    assert_refused(run_cli(args, env, cwd=tmp_path), server, "release name")


@pytest.mark.parametrize(("args", "message"), VALUES, ids=[" ".join(a)[:40] for a, _ in VALUES])
def test_garbage_values(
    server: DevServer, env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    assert_refused(run_cli(args, env, cwd=tmp_path), server, message)


def test_not_a_git_repository(server: DevServer, env: dict[str, str], tmp_path: Path) -> None:
    assert_refused(run_cli(["new"], env, cwd=tmp_path), server, "not a git repository")
    assert_refused(run_cli(["propose-version"], env, cwd=tmp_path), server, "not a git repository")


def test_dirty_tree_warns_but_proceeds(server: DevServer, env: dict[str, str], tmp_path: Path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, commits=1)
    (repo / "src" / "file0.txt").write_text("edited\n", encoding="utf-8")
    done = run_cli(["new"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "uncommitted changes: the release is named for HEAD" in done.stderr
    assert f"Created release {shas[-1]}" in done.stdout
    commit(repo, {"src/file0.txt": "edited\n"}, "commit the edit")
    done = run_cli(["new"], env, cwd=repo)
    assert "uncommitted" not in done.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"finalize": "maybe"}, "finalize must be true or false, got 'maybe'"),
        ({"create": "yes please"}, "create must be true or false"),
        ({"deploy": "2"}, "deploy must be true or false"),
        ({"ignore_empty": "perhaps"}, "ignore_empty must be true or false"),
        ({"inject": "nope"}, "inject must be true or false"),
        ({"dry_run": "sure"}, "dry_run must be true or false"),
        ({"commit_mode": "bogus"}, "set_commits must be one of auto, local, manual, skip"),
        ({"grace": "-5"}, "grace must not be negative"),
        ({"timeout": "abc"}, "timeout must be a duration"),
        ({"retry_budget": "-1"}, "retry_budget must not be negative"),
        ({"initial_depth": "0"}, "initial_depth must be at least 1"),
    ],
)
def test_settings_refuse_non_boolean_and_garbage_inputs(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    """The action passes strings; `from_values` is where both front doors validate them."""
    with pytest.raises(ConfigError) as info:
        from_values(values, cwd=tmp_path, home=None)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_remote_failures_exit_1_with_sentrys_words(server: DevServer, env: dict[str, str]) -> None:
    # A rejected token is a configuration error (exit 2) naming what the endpoint needs.
    done = run_cli(["new", "1.0"], {**env, "SENTRY_AUTH_TOKEN": "wrong-token"})
    assert done.returncode == 2
    assert "Invalid token" in done.stderr and "SENTRY_AUTH_TOKEN" in done.stderr
    assert "org:ci" in done.stderr
    done = run_cli(["new", "1.0"], {**env, "SENTRY_ORG": "nope"})
    assert done.returncode == 1
    assert "organization not found: 'nope': check SENTRY_ORG" in done.stderr
    done = run_cli(["new", "1.0", "-p", "ghost"], env)
    assert done.returncode == 1
    assert "Invalid project slugs" in done.stderr
    done = run_cli(["finalize", "missing"], env)
    assert done.returncode == 1
    assert "release 'missing' not found" in done.stderr
    done = run_cli(["deploy", "missing", "-e", "prod"], {**env, "SENTRY_ORG": "nope"})
    assert done.returncode == 1
    assert "check SENTRY_ORG" in done.stderr
    for stderr in (done.stderr,):
        assert len(stderr.strip().splitlines()) == 1


# --- source maps: unreadable, invalid, outside the working directory --------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"


def _not_utf8(dist: Path) -> None:
    (dist / "app.min.js.map").write_bytes(b'{"version":3,"mappings":"\xff\xfe"}')


def _dangling(dist: Path) -> None:
    (dist / "app.min.js.map").unlink()
    (dist / "app.min.js.map").symlink_to(dist / "gone.map")


def _link_out(dist: Path) -> None:
    outside = dist.parent.parent / "secrets"
    outside.mkdir(exist_ok=True)
    (outside / "id_rsa.js").write_text("// not for upload\n", encoding="utf-8")
    (dist / "vendor").symlink_to(outside, target_is_directory=True)


SOURCE_MAPS = [
    (_not_utf8, ["dist"], "app.min.js.map: source map is not valid JSON"),
    (_dangling, ["dist"], "cannot read"),
    (
        lambda d: (d / "app.min.js.map").write_text("{not json", encoding="utf-8"),
        ["dist"],
        "app.min.js.map: source map is not valid JSON",
    ),
    (
        lambda d: (d / "app.min.js.map").write_text('{"version":3}', encoding="utf-8"),
        ["dist"],
        "app.min.js.map: source map has no `mappings`; enable source maps in the bundler",
    ),
    # a named path is the user's and taken as given (docs/security.md), except /proc, /sys, /dev
    (lambda d: None, ["../elsewhere"], "source map path does not exist"),
    (lambda d: None, ["/proc/self"], "'/proc/self' leads into /proc/"),
    (_link_out, ["dist"], "dist/vendor/id_rsa.js' leads through a symlink outside"),
    (
        lambda d: (d.parent / "build").symlink_to("/proc/self", target_is_directory=True),
        ["build"],
        "which is never read",
    ),
]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working directory holding a copy of the terser fixtures as `dist/`."""
    root = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", root / "dist")
    return root


@pytest.mark.parametrize(
    "command",
    [
        ["upload-sourcemaps", "1.0"],
        ["run", "1.0", "--mode", "skip", "--no-deploy", "--sourcemaps"],
    ],
    ids=["upload-sourcemaps", "run"],
)
@pytest.mark.parametrize(
    ("setup", "paths", "message"),
    SOURCE_MAPS,
    ids=[
        "not UTF-8",
        "dangling link",
        "invalid JSON",
        "no mappings",
        "relative path outside, missing",
        "absolute path into /proc",
        "symlink inside dist leaves",
        "path is a symlink into /proc",
    ],
)
def test_bad_source_maps_are_refused_before_any_request(
    server: DevServer,
    env: dict[str, str],
    work: Path,
    command: list[str],
    setup: Any,
    paths: list[str],
    message: str,
) -> None:
    setup(work / "dist")
    done = run_cli([*command, *paths], env, cwd=work)
    assert_refused(done, server, message, options_read=command[0] == "upload-sourcemaps")


def test_inject_refuses_paths_outside_the_working_directory(
    server: DevServer, env: dict[str, str], work: Path
) -> None:
    _link_out(work / "dist")
    before = (work.parent / "secrets" / "id_rsa.js").read_bytes()
    for paths, message in ((["dist"], "leads through a symlink outside"),):
        assert_refused(run_cli(["inject", *paths], env, cwd=work), server, message)
    assert (work.parent / "secrets" / "id_rsa.js").read_bytes() == before


# --- set-commits local in a shallow clone without a remote ------------------------------------


def test_shallow_clone_without_remote_names_the_fetch_depth_fix(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    """The previous release's last commit is outside the shallow history and nothing can be
    fetched: exit 2 with the actions/checkout fix. Knowing that needs the previous release
    from Sentry, so reads happen first; what must not happen is sending commits."""
    origin = tmp_path / "origin"
    make_repo(origin, commits=3)
    assert run_cli(["new", "1.0"], env, cwd=origin).returncode == 0
    done = run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=origin)
    assert done.returncode == 0, done.stderr
    commit(origin, {"a.txt": "a\n"}, "after 1.0")
    commit(origin, {"b.txt": "b\n"}, "head")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", origin.as_uri(), str(shallow))
    git(shallow, "remote", "remove", "origin")
    assert run_cli(["new", "2.0"], env, cwd=shallow).returncode == 0
    before = len(server.store.requests)
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=shallow)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "is not in the git history of this shallow clone" in lines[0]
    assert "set fetch-depth: 0 in actions/checkout" in lines[0]
    assert "Traceback" not in done.stderr
    sent = server.store.requests[before:]
    assert [r for r in sent if r["method"] != "GET"] == []  # no commits PUT


# --- action inputs: the same refusals through entrypoint.py -----------------------------------


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"set_commits": "sometimes"}, "set_commits must be one of auto, local, manual, skip"),
        ({"finalize": "maybe"}, "finalize must be true or false, got 'maybe'"),
        ({"inject": "nope"}, "inject must be true or false"),
        ({"gate": "2"}, "gate must be true or false"),
    ],
    ids=["set_commits=sometimes", "finalize=maybe", "inject=nope", "gate=2"],
)
def test_action_refuses_bad_inputs_in_one_error_line(
    server: DevServer, tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    from tests.action.test_runner import run_step

    workspace = tmp_path / "workspace"
    make_repo(workspace, commits=1)
    run = run_step(
        workspace,
        tmp_path,
        {"url": server.url, "org": ORG, "projects": "web", **inputs},
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 2, run.stdout + run.stderr
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and message in errors[0], run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert server.store.requests == []
