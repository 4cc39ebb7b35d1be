"""`--json` when a command fails: one JSON object on stdout, with the error's kind, message
and exit code, and what was done before it; for every kind of failure and on every command."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from sentry_release.cli import run_cli
from sentry_standin import DevServer, Store
from sentry_standin.faults import FaultPlan
from tests.helpers import ORG, PROJECTS, TOKEN


def failed(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    """Run the CLI with `--json`; the exit code and the one object it printed on stdout."""
    code = run_cli([*args, "--json"], environ=dict(os.environ))
    out = capsys.readouterr().out
    data = json.loads(out)  # nothing but one JSON object
    assert isinstance(data, dict)
    assert data["error"]["exit_code"] == code
    return code, data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bad_input(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = failed(capsys, ["gate", "1.0", "--env", "production", "--window", "soon"])
    assert (code, data["error"]["kind"]) == (2, "bad_input")
    assert "window" in data["error"]["message"] and data["done"] == []


def test_usage_error(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = failed(capsys, ["new", "--no-such-flag"])
    assert (code, data["error"]["kind"]) == (2, "bad_input")
    assert "--no-such-flag" in data["error"]["message"]


def test_auth(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = failed(capsys, ["new", "1.0", "--auth-token", "sntryu_" + "0" * 64])
    assert (code, data["error"]["kind"]) == (2, "auth")
    assert "0" * 64 not in json.dumps(data)


def test_remote(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = failed(capsys, ["info", "no-such-release"])
    assert (code, data["error"]["kind"]) == (1, "not_found")
    assert "no-such-release" in data["error"]["message"]


def test_unreachable(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    code, data = failed(capsys, ["new", "1.0", "--url", url, "--retry-budget", "1"])
    assert (code, data["error"]["kind"]) == (1, "unreachable")


def test_missing_path(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = failed(capsys, ["inject", "no/such/dist"])
    assert code == 2 and data["error"]["kind"] in ("bad_input", "source_maps")
    assert "no/such/dist" in data["error"]["message"]


def test_run_says_what_it_did_before_the_failure(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The release is created and finalized, then Sentry refuses the deploy (a 400)."""
    plan = FaultPlan.parse("POST /organizations/*/releases/*/deploys/=400")
    store = Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,))
    with DevServer(store, faults=plan) as faulty:
        for key, value in {**env, "SENTRY_URL": faulty.url}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        code, data = failed(capsys, ["run", "2.0", "--mode", "skip", "--env", "production"])
    assert (code, data["error"]["kind"]) == (1, "remote")
    assert "deploys" in data["error"]["message"]
    assert data["done"] == ["Create release", "Finalize release"]
    assert data["version"] == "2.0" and data["deploy_id"] is None


def test_gate(checkout: Path, server: DevServer, capsys: pytest.CaptureFixture[str]) -> None:
    from sentry_release.demo import BAD

    code = run_cli(["demo", "--json"], environ=dict(os.environ))
    data = json.loads(capsys.readouterr().out)
    assert (code, data["error"]["kind"], data["error"]["exit_code"]) == (3, "gate", 3)
    assert data["runs"][-1]["version"] == BAD


def test_check_prints_one_object_whether_it_passes_or_fails(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(["check", "--json"], environ=dict(os.environ))
    passed = json.loads(capsys.readouterr().out)  # one object, not the rows then another
    assert code == 0 and passed["ok"] is True and "error" not in passed
    code, failed_check = failed(capsys, ["check", "-p", "ghost"])
    assert code == 2 and failed_check["ok"] is False and failed_check["rows"]
    assert failed_check["error"]["kind"] == "bad_input"
