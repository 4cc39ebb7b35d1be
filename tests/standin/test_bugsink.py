"""Against Bugsink (a real Sentry-compatible server, PyPI `bugsink`, a Django app): the
product's `inject` + `upload-sourcemaps` land a bundle Bugsink accepts, and Bugsink's own
symbolication (`events.utils.apply_sourcemaps`) maps a minified frame back to the source with
our upload.

Bugsink lives in its own virtualenv (`.ci/bugsink-venv`, made by `.ci/run`): its Django and
DRF pins must not mix with the product's test environment. Skipped with the install command
where it is missing; a failure under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests import helpers

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BUGSINK_VENV = ROOT / ".ci" / "bugsink-venv"
FIXTURES = ROOT / "tests" / "fixtures" / "sourcemaps"
STARTUP_DEADLINE = 60.0


@dataclass
class Bugsink:
    url: str
    token: str
    project: str
    workdir: Path
    env: dict[str, str]

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [str(BUGSINK_VENV / "bin" / "bugsink-manage"), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def bugsink_installed() -> Path:
    manage = BUGSINK_VENV / "bin" / "bugsink-manage"
    if manage.exists():
        return manage
    reason = (
        f"Bugsink not installed at {BUGSINK_VENV}: run `python3 -m venv {BUGSINK_VENV} && "
        f"{BUGSINK_VENV}/bin/pip install bugsink`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


SETUP = """
import json
from bsmain.models import AuthToken
from projects.models import Project
from teams.models import Team
team = Team.objects.create(name="acme")
project = Project.objects.create(name="web", slug="web", team=team)
print(json.dumps({"token": AuthToken.create_full_access().token, "project": project.slug}))
"""


@pytest.fixture
def bugsink(tmp_path: Path) -> Iterator[Bugsink]:
    manage = bugsink_installed()
    workdir = tmp_path / "bugsink"
    workdir.mkdir()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "bugsink_conf",
        "PYTHONPATH": str(workdir),
    }
    subprocess.run(
        [
            str(manage.parent / "bugsink-create-conf"),
            "--template=local",
            f"--port={port}",
            "--host=127.0.0.1",
            "-o",
            str(workdir / "bugsink_conf.py"),
        ],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    instance = Bugsink(f"http://127.0.0.1:{port}/", "", "", workdir, env)
    instance.manage("migrate", "--noinput")
    instance.manage("migrate", "snappea", "--database=snappea", "--noinput")
    created = json.loads(instance.manage("shell", "-c", SETUP).strip().splitlines()[-1])
    instance.token, instance.project = created["token"], created["project"]
    server = subprocess.Popen(
        [str(manage), "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            try:
                requests.get(instance.url, timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield instance
    finally:
        server.terminate()
        server.wait(timeout=10)


SYMBOLICATE = """
import json
from events.utils import apply_sourcemaps
from projects.models import Project
event = json.loads({event!r})
apply_sourcemaps(event, Project.objects.get(slug="web"))
print(json.dumps(event["exception"]["values"][0]["stacktrace"]["frames"][0]))
"""


def test_inject_and_upload_then_bugsink_symbolicates_a_minified_frame(
    bugsink: Bugsink, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    env = helpers.cli_env(
        bugsink.url,
        token=bugsink.token,
        home=tmp_path,
        SENTRY_ORG="bugsink",
        SENTRY_PROJECT=bugsink.project,
    )
    inject = helpers.run_cli(["inject", str(dist)], env, cwd=tmp_path)
    assert inject.returncode == 0, inject.stdout + inject.stderr
    # Default flags: Bugsink answers `created` for ever once every chunk is there (its
    # artifact_bundle_assemble); the client counts an accepted assemble as uploaded.
    upload = helpers.run_cli(
        ["upload-sourcemaps", "--release", "1.0", str(dist), "--ignore", "app.min.js*"],
        env,
        cwd=tmp_path,
        timeout=120,
    )
    assert upload.returncode == 0, upload.stdout + upload.stderr
    # The next release (#23) adds app.min.js to files already uploaded: chunks cut on entry
    # boundaries, the manifest and central directory in their own chunks. Only this bundle
    # holds app.min.js, so the frame below is symbolicated from it.
    again = helpers.run_cli(
        ["upload-sourcemaps", "--release", "1.1", str(dist)], env, cwd=tmp_path, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr

    source_map = json.loads((dist / "app.min.js.map").read_text(encoding="utf-8"))
    debug_id = source_map.get("debugId") or source_map["debug_id"]
    line, column = first_mapped_position(source_map)
    event = {
        "platform": "javascript",
        "debug_meta": {
            "images": [
                {"type": "sourcemap", "code_file": "http://x/app.min.js", "debug_id": debug_id}
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "Error",
                    "stacktrace": {
                        "frames": [
                            {
                                "abs_path": "http://x/app.min.js",
                                "filename": "app.min.js",
                                "lineno": line + 1,
                                "colno": column + 1,
                            }
                        ]
                    },
                }
            ]
        },
    }
    frame = json.loads(
        bugsink.manage("shell", "-c", SYMBOLICATE.format(event=json.dumps(event)))
        .strip()
        .splitlines()[-1]
    )
    assert "debug_id" not in frame, frame  # set only when the map was not found
    assert frame["filename"] in source_map["sources"], frame
    assert frame["context_line"].strip(), frame


def first_mapped_position(source_map: dict[str, object]) -> tuple[int, int]:
    """(0-based line, column) of the first segment of the generated file that has a source."""
    from sentry_release.sourcemaps.vlq import decode_mappings

    mappings = decode_mappings(str(source_map["mappings"]))
    for line, segments in enumerate(mappings):
        for segment in segments:
            if len(segment) >= 4:
                return line, segment[0]
    raise AssertionError("the fixture map has no mapped segment")
