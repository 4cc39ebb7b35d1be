"""The real sentry-cli (3.x, the test dependency, and 2.x, what getsentry/action-release
bundles) runs its release commands against the STRICT stand-in with an organization token
(`org:ci` only), as a user's CI would against sentry.io. If the stand-in refused what Sentry
accepts from a trusted client, these fail."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sentry_standin import DevServer
from sentry_standin.chunks import artifact_bundles
from sentry_standin.commits import add_repo
from tests.helpers import GIT_ENV, make_repo
from tests.standin.conftest import ORG, Api, StandinFactory, sentry_cli_2, sentry_cli_3

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
CLIENTS: dict[str, Callable[[], str]] = {"3.x": sentry_cli_3, "2.x": sentry_cli_2}


def org_token(server: DevServer) -> str:
    """An organization auth token in sentry-cli's format: `sntrys_<base64 JSON>_<secret>`,
    the payload naming this server and the org (src/utils/auth_token/org_auth_token.rs)."""
    payload = {"iat": 1, "url": server.url, "region_url": server.url, "org": ORG}
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    secret = base64.b64encode(bytes(range(32))).decode().rstrip("=").replace("_", "A")
    token = f"sntrys_{encoded}_{secret}"
    assert token.count("_") == 2
    server.store.add_token(token, ["org:ci"])
    return token


def run(binary: str, args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [binary, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"sentry-cli {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_release_commands_pass_with_an_org_ci_token(
    client: str, standin: StandinFactory, tmp_path: Path
) -> None:
    binary = CLIENTS[client]()
    api: Api = standin()
    server = api.server
    repo = tmp_path / "repo"
    shas = make_repo(repo, commits=3)
    add_repo(server.store, ORG, "acme/web", f"file://{repo}")
    dist = tmp_path / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")},
        **GIT_ENV,
        "SENTRY_URL": server.url,
        "SENTRY_AUTH_TOKEN": org_token(server),
        "SENTRY_ORG": ORG,
        "HOME": str(tmp_path),
        "SENTRY_LOG_LEVEL": "info",
    }
    version = f"interop-{client}"
    run(binary, ["releases", "new", version, "-p", "web"], env, repo)
    run(
        binary,
        ["releases", "set-commits", version, "--commit", f"acme/web@{shas[-1]}"],
        env,
        repo,
    )
    run(binary, ["releases", "finalize", version, "-p", "web"], env, repo)
    if client == "2.x":
        run(binary, ["releases", "deploys", version, "new", "-e", "production"], env, repo)
    else:
        run(binary, ["deploys", "new", "-r", version, "-e", "production"], env, repo)
    run(binary, ["sourcemaps", "inject", str(dist)], env, repo)
    run(
        binary,
        ["sourcemaps", "upload", "-p", "web", "--release", version, str(dist)],
        env,
        repo,
    )

    release = server.store.release(ORG, version)
    assert release is not None
    assert release["projects"] == ["web"]
    assert release["dateReleased"] is not None
    assert [d["environment"] for d in release["deploys"]] == ["production"]
    commits = api.get(f"/releases/{version}/commits/").json()
    assert [c["id"] for c in commits] == list(reversed(shas))
    bundles = artifact_bundles(server.store, ORG)
    assert len(bundles) == 1
    assert bundles[0]["projects"] == ["web"]
    if client == "2.x":  # 2.x creates single-project releases through the project path
        paths = [r["path"] for r in server.store.requests if r["method"] == "POST"]
        assert "/api/0/projects/acme/web/releases/" in paths
    refused = [r for r in server.store.requests if r["status"] >= 400]
    assert refused == []


def test_sentry_cli_2_deploy_with_project_meets_sentrys_refusal(
    standin: StandinFactory, tmp_path: Path
) -> None:
    """sentry-cli >= 2.36.2 sends `projects` when `--project` is given; sentry.io answers an
    org:ci token with 400 {"projects": ["Insufficient access to project"]}
    (getsentry/sentry-cli#2163, release_deploys.py ProjectField(scope="project:read"))."""
    binary = sentry_cli_2()
    api: Api = standin()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")},
        "SENTRY_URL": api.server.url,
        "SENTRY_AUTH_TOKEN": org_token(api.server),
        "HOME": str(tmp_path),
    }
    run(binary, ["releases", "new", "1.0", "-p", "web"], env, tmp_path)
    done = subprocess.run(
        [binary, "releases", "deploys", "1.0", "new", "-e", "production", "-p", "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Insufficient access to project" in done.stderr
