"""The differential test's real half (issue #21): tests/differential/cases.py sent to the
real Sentry 23.7.1, held to the answers recorded in tests/fixtures/sentry-23.7.1-answers.json
(`SENTRY_REAL_RECORD=1` rewrites them from this server). The stand-in's half,
tests/standin/test_differential.py, holds the stand-in to the same file."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import requests
from tests.differential.cases import RECORDED, ROLES, Target, differences, recorded, run
from tests.realserver.conftest import ORG, REAL, REAL_URL, token

pytestmark = [*REAL, pytest.mark.slow]  # seconds of real requests: not the fast loop


def test_the_real_server_answers_as_recorded() -> None:
    projects = requests.get(
        f"{REAL_URL}/api/0/organizations/{ORG}/projects/",
        headers={"Authorization": f"Bearer {token('read')}"},
        timeout=30,
    ).json()
    web_id = next(str(p["id"]) for p in projects if p["slug"] == "web")
    target = Target(
        REAL_URL,
        {role: token(role) for role in ROLES},
        {"org": ORG, "release": f"diff-{uuid.uuid4().hex[:10]}", "web_id": web_id},
    )
    answers = run(target)
    if os.environ.get("SENTRY_REAL_RECORD") == "1":
        RECORDED.write_text(
            json.dumps({"sentry": "23.7.1", "answers": answers}, indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
    assert differences(answers, recorded()) == {}
