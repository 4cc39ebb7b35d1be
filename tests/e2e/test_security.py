"""The token never shows: every command under --debug, failures included, scanned for it.

Also: plain-http warning for non-loopback hosts, TLS verification on with --ca-bundle /
REQUESTS_CA_BUNDLE for a self-hosted CA, and the token kept off foreign hosts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from sentry_release.redact import REDACTED, find_leaks, redact, register_secret
from sentry_standin import DevServer, Store
from sentry_standin.faults import FaultPlan
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, make_repo, run_cli

WRONG_TOKEN = "wrong-token-LEAKME-0123456789"


def assert_no_leak(secret: str, texts: Mapping[str, str]) -> None:
    """Reusable: fail listing every line where `secret` (or an encoding of it) appears."""
    leaks = find_leaks(secret, texts)
    assert leaks == [], "secret leaked:\n" + "\n".join(leaks)


# Every command with a token-bearing environment, as (label, args, token, expected exit).
COMMANDS: list[tuple[str, list[str], str, int]] = [
    ("propose-version", ["propose-version"], TOKEN, 0),
    ("new", ["new", "1.0", "--debug"], TOKEN, 0),
    ("new --finalize", ["new", "1.1", "--finalize", "--debug"], TOKEN, 0),
    ("finalize", ["finalize", "1.0", "--debug"], TOKEN, 0),
    ("deploy", ["deploy", "1.0", "-e", "prod", "--debug"], TOKEN, 0),
    ("deploys", ["deploys", "1.0", "--debug"], TOKEN, 0),
    ("info", ["info", "1.0", "--debug"], TOKEN, 0),
    ("run", ["run", "1.2", "--mode", "skip", "-e", "prod", "--debug"], TOKEN, 0),
    ("dry-run new", ["new", "1.3", "--dry-run", "--debug"], TOKEN, 0),
    ("dry-run run", ["run", "1.3", "--mode", "skip", "-e", "p", "--dry-run", "--debug"], TOKEN, 0),
    ("token as flag", ["new", "1.4", "--auth-token", TOKEN, "--debug"], TOKEN, 0),
    ("401", ["new", "1.5", "--debug"], WRONG_TOKEN, 2),
    ("401 via flag", ["info", "1.0", "--auth-token", WRONG_TOKEN, "--debug"], WRONG_TOKEN, 2),
    ("bad org", ["new", "1.6", "--org", "nope", "--debug"], TOKEN, 1),
    ("missing release", ["finalize", "ghost", "--debug"], TOKEN, 1),
    ("500 exhausted", ["deploys", "500", "--debug"], TOKEN, 1),
    ("bad input", ["new", "a/b", "--debug"], TOKEN, 2),
    ("usage error", ["new", "1.0", "--bogus", TOKEN], TOKEN, 2),
    ("set-commits", ["set-commits", "1.0", "--mode", "local", "--debug"], TOKEN, None),  # type: ignore[list-item]
    (
        "gate",
        [
            "gate",
            "1.0",
            "-e",
            "prod",
            "--grace",
            "0",
            "--window",
            "1s",
            "--settle",
            "0",
            "--poll",
            "0.5s",
            "--debug",
        ],
        TOKEN,
        None,
    ),  # type: ignore[list-item]
    ("upload-sourcemaps", ["upload-sourcemaps", "1.0", "dist", "--debug"], TOKEN, None),  # type: ignore[list-item]
]


@pytest.fixture
def leaky_server() -> Iterator[DevServer]:
    """A stand-in that answers 500 to one release's deploys list, always."""
    plan = FaultPlan.parse("GET /organizations/*/releases/500/deploys/=500")
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)), faults=plan) as srv:
        yield srv


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, commits=2)
    (path / "dist").mkdir()
    (path / "dist" / "app.js").write_text("console.log(1)\n//# sourceMappingURL=app.js.map\n")
    (path / "dist" / "app.js.map").write_text('{"version":3,"sources":[],"mappings":""}')
    return path


@pytest.mark.slow  # a sweep: every command, each in its own process
def test_every_command_under_debug_never_prints_the_token(
    leaky_server: DevServer, repo: Path, tmp_path: Path
) -> None:
    seen: dict[str, int] = {}
    for label, args, token, expected in COMMANDS:
        env = cli_env(leaky_server.url, token=token, home=tmp_path, SENTRY_RELEASE_RETRY_BUDGET="1")
        done = run_cli(args, env, cwd=repo)
        seen[label] = done.returncode
        if expected is not None:
            assert done.returncode == expected, (label, done.stdout, done.stderr)
        assert_no_leak(token, {f"{label} stdout": done.stdout, f"{label} stderr": done.stderr})
    # The failures really happened (and were scanned): 401, 404, 500 after retries.
    assert seen["bad org"] == seen["500 exhausted"] == 1
    assert seen["401"] == 2  # a rejected token is a configuration error
    assert any(r["status"] == 401 for r in leaky_server.store.requests)
    # --debug logs requests: the scan covered HTTP logging, not only the final line.
    done = run_cli(["info", "1.0", "--debug"], cli_env(leaky_server.url, home=tmp_path), cwd=repo)
    assert "debug: sentry_release.http" in done.stderr


def test_debug_traceback_of_an_error_is_redacted(server: DevServer, tmp_path: Path) -> None:
    env = cli_env(server.url, home=tmp_path, SENTRY_ORG="nope")
    done = run_cli(["new", "1.0", "--debug"], env, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" in done.stderr  # --debug shows it
    assert_no_leak(TOKEN, {"stderr": done.stderr, "stdout": done.stdout})


def test_redact_covers_encodings_and_bearer_headers() -> None:
    secret = "s3cr3t/t0ken+with=chars"
    register_secret(secret)
    text = f"a {secret} b%2F {'s3cr3t%2Ft0ken%2Bwith%3Dchars'} Authorization: Bearer abcdefgh12345"
    cleaned = redact(text)
    assert secret not in cleaned and "s3cr3t%2F" not in cleaned
    assert cleaned.count(REDACTED) == 3
    assert find_leaks(secret, {"out": text}) == [f"out: {text}"]
    assert find_leaks(secret, {"out": cleaned}) == []


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://sentry.internal.example/", True),
        ("http://10.0.0.5:9000/", True),
        ("https://sentry.internal.example/", False),
        ("http://localhost:9000/", False),
        ("http://127.0.0.2:9000/", False),
        ("http://[::1]:9000/", False),
    ],
)
def test_plain_http_to_a_non_loopback_host_warns(
    url: str, warned: bool, server: DevServer, tmp_path: Path
) -> None:
    env = cli_env(url, home=tmp_path)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "app.js").write_text("console.log(1)\n")
    # inject --dry-run starts a run with the token but calls no Sentry (a dry run reads it)
    done = run_cli(["inject", "dist", "--dry-run"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    warning = "warning: the auth token will be sent over plain http to"
    assert (warning in done.stderr) is warned, done.stderr
    assert server.store.requests == []


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[DevServer, Path]]:
    """The stand-in behind TLS with a self-signed certificate for 127.0.0.1."""
    import ssl

    cert, key = tmp_path / "ca.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv = DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)))
    srv.httpd.socket = context.wrap_socket(srv.httpd.socket, server_side=True)
    srv.url = f"https://127.0.0.1:{srv.port}/"
    with srv:
        yield srv, cert


def test_tls_is_verified_and_a_ca_bundle_makes_self_hosted_work(
    tls_server: tuple[DevServer, Path], tmp_path: Path
) -> None:
    srv, cert = tls_server
    env = cli_env(srv.url, home=tmp_path, SENTRY_RELEASE_RETRY_BUDGET="1")
    done = run_cli(["new", "1.0"], env, cwd=tmp_path)
    assert done.returncode == 1
    assert "TLS verification failed (certificate verify failed" in done.stderr
    assert "--ca-bundle" in done.stderr
    assert srv.store.requests == []  # the token never crossed an unverified connection

    assert run_cli(["new", "1.0", "--ca-bundle", str(cert)], env, cwd=tmp_path).returncode == 0
    done = run_cli(["finalize", "1.0"], {**env, "REQUESTS_CA_BUNDLE": str(cert)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in srv.store.requests] == [201, 200]


def test_a_missing_ca_bundle_from_the_environment_is_bad_input(
    server: DevServer, tmp_path: Path
) -> None:
    env = cli_env(server.url.replace("http:", "https:"), home=tmp_path)
    done = run_cli(["new", "1.0"], {**env, "REQUESTS_CA_BUNDLE": str(tmp_path / "no.pem")})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: Could not find a suitable TLS CA certificate bundle, invalid path: "
        f"{tmp_path / 'no.pem'}: fix REQUESTS_CA_BUNDLE / --ca-bundle"
    ]
    assert server.store.requests == []


# --- the GitHub Action: entrypoint.py under debug, success and failure ------------------------

LEAKY = "sntrys_LEAKME_action_0123456789abcdef"


@pytest.mark.parametrize(
    ("label", "inputs", "extra_env", "code"),
    [
        ("success, every step", {"set_commits": "local", "sourcemaps": "dist"}, {}, 0),
        ("success, token as input", {"set_commits": "skip", "auth_token": LEAKY}, {}, 0),
        ("dry run", {"set_commits": "local", "sourcemaps": "dist", "dry_run": "true"}, {}, 0),
        ("unknown project", {"set_commits": "skip", "projects": "ghost"}, {}, 1),
        ("token refused", {"set_commits": "skip"}, {"SENTRY_AUTH_TOKEN": LEAKY + "x"}, 2),
        ("429 past the budget", {"set_commits": "skip"}, {"FAULTS": "*=429:600"}, 1),
        ("bad input", {"finalize": "maybe"}, {}, 2),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_action_never_shows_the_token(
    tmp_path: Path, label: str, inputs: dict[str, str], extra_env: dict[str, str], code: int
) -> None:
    """stdout, stderr, $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT hold no trace of the token;
    the only occurrence allowed is the `::add-mask::` command the runner consumes."""
    from tests.action.test_runner import run_step

    extra = dict(extra_env)
    plan = FaultPlan.parse(extra.pop("FAULTS", ""))
    workspace = tmp_path / "workspace"
    make_repo(workspace, commits=2)
    shutil.copytree(
        Path(__file__).parents[1] / "fixtures" / "sourcemaps" / "dist", workspace / "dist"
    )
    store = Store(orgs=(ORG,), projects=PROJECTS, tokens=(LEAKY,))
    with DevServer(store, faults=plan) as server:
        values = {
            "url": server.url,
            "org": ORG,
            "projects": "web",
            "environment": "production",
            "debug": "true",
            **inputs,
        }
        env = {"SENTRY_RELEASE_RETRY_BUDGET": "1"}
        if "auth_token" not in inputs:
            env["SENTRY_AUTH_TOKEN"] = LEAKY
        env.update(extra)
        run = run_step(workspace, tmp_path, values, env=env)
    assert run.code == code, run.stdout + run.stderr
    if code != 2 and "dry_run" not in inputs:
        assert "debug: sentry_release.http" in run.stderr  # the debug dump was on
    if label == "success, every step":
        assert "::group::Associate commits" in run.stdout
        assert "::group::Upload source maps" in run.stdout
    lines = run.stdout.splitlines()
    masks = [i for i, line in enumerate(lines) if line.startswith("::add-mask::")]
    assert masks == list(range(len(masks)))  # masking comes before anything else
    secret = extra.get("SENTRY_AUTH_TOKEN", LEAKY)
    rest = "\n".join(line for line in lines if not line.startswith("::add-mask::"))
    assert_no_leak(
        secret,
        {
            "stdout": rest,
            "stderr": run.stderr,
            "step summary": run.summary,
            "outputs": json.dumps(run.outputs),
        },
    )
