"""The stand-in's state: orgs, projects, tokens, releases, deploys and what later steps add.

Plain dicts under one lock, so it serialises to a JSON state file as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sentry_standin.errors import StandinConfigError
from sentry_standin.rules import ALL_SCOPES, ORG_TOKEN_SCOPES, isoformat
from sentry_standin.rules import parse_iso as parse_iso

to_iso = isoformat

DEFAULT_TOKEN = "sntrys_dev_token_not_secret"
DEFAULT_ORG = "acme"
DEFAULT_PROJECT = "web"
ORG_TOKEN_PREFIX = "sntrys_"


def parse_token(spec: str) -> tuple[str, list[str]]:
    """`NAME` or `NAME=scope1,scope2` -> (name, scopes).

    A bare name gets every scope (the dev token and test tokens behave as before), except an
    organization token (`sntrys_...`), which carries `org:ci` only, as on Sentry
    (models/orgauthtoken.py); the built-in dev token keeps every scope so the demo works.
    """
    name, sep, scopes = spec.partition("=")
    name = name.strip()
    if not name:
        raise StandinConfigError(f"--token must look like NAME or NAME=scope1,scope2, got {spec!r}")
    if sep:
        listed = [s.strip() for s in scopes.split(",") if s.strip()]
        unknown = [s for s in listed if s not in ALL_SCOPES]
        if unknown:
            raise StandinConfigError(
                f"--token {name}=...: unknown scope {unknown[0]!r} (one of {', '.join(ALL_SCOPES)})"
            )
        return name, listed
    if name.startswith(ORG_TOKEN_PREFIX) and name != DEFAULT_TOKEN:
        return name, list(ORG_TOKEN_SCOPES)
    return name, list(ALL_SCOPES)


def now_iso(store: Store) -> str:
    """The store's now in Sentry's date format."""
    return isoformat(datetime.fromtimestamp(store.clock(), timezone.utc))


class Store:
    """All server state; every public method takes the lock via `with store.lock`."""

    def __init__(
        self,
        *,
        orgs: Iterable[str] = (DEFAULT_ORG,),
        projects: Iterable[str] = (DEFAULT_PROJECT,),
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        state_file: Path | None = None,
        features: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        # The server's clock: its `Date` header, "now" in its answers and time ranges. A test
        # gives a simulated one (shared with the client under test) so waits take no time.
        self.clock = clock
        self.state_file = state_file
        self.requests: list[dict[str, Any]] = []  # method/path/status of every request seen
        self.features = list(features)
        parsed = [parse_token(t) for t in tokens]
        self.data: dict[str, Any] = {
            "next_id": 1,
            "tokens": [],
            "scopes": {},  # token -> its scopes
            "orgs": {},
            "releases": {},  # org -> version -> release
        }
        if state_file is not None and state_file.is_file():
            self.data = json.loads(state_file.read_text(encoding="utf-8"))
            self.data.setdefault("scopes", {})
        for name, scopes in parsed:
            self.add_token(name, scopes)
        for org in orgs:
            self.add_org(org, projects)

    # --- persistence ---------------------------------------------------------------

    def save(self) -> None:
        """Write the state file atomically (no-op without one)."""
        if self.state_file is None:
            return
        with self.lock:
            tmp = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, default=str), encoding="utf-8")
            os.replace(tmp, self.state_file)

    def next_id(self) -> int:
        """A fresh numeric id (Sentry ids are numbers serialised as strings)."""
        with self.lock:
            value = int(self.data["next_id"])
            self.data["next_id"] = value + 1
            return value

    # --- orgs, projects, tokens -------------------------------------------------------

    def add_org(self, slug: str, projects: Iterable[str] = ()) -> dict[str, Any]:
        """Create (or extend) an organization with projects."""
        with self.lock:
            org = self.data["orgs"].get(slug)
            if org is None:
                org = {
                    "id": str(self.next_id()),
                    "slug": slug,
                    "name": slug.title(),
                    "projects": {},
                    "features": list(self.features),
                }
                self.data["orgs"][slug] = org
                self.data["releases"].setdefault(slug, {})
            for project in projects:
                self.add_project(slug, project)
            return dict(org)

    def add_project(self, org: str, slug: str) -> dict[str, Any]:
        """Create a project with a stable DSN key."""
        with self.lock:
            projects = self.data["orgs"][org]["projects"]
            if slug not in projects:
                project_id = self.next_id()
                key = hashlib.sha1(f"{org}/{slug}".encode()).hexdigest()[:32]
                projects[slug] = {
                    "id": str(project_id),
                    "slug": slug,
                    "name": slug,
                    "platform": "javascript",
                    "public_key": key,
                }
            return dict(projects[slug])

    def add_token(self, name: str, scopes: Iterable[str] = ALL_SCOPES) -> None:
        """Accept a token with these scopes (replacing the scopes of a known one)."""
        with self.lock:
            if name not in self.data["tokens"]:
                self.data["tokens"].append(name)
            self.data["scopes"][name] = list(scopes)

    def token_ok(self, token: str) -> bool:
        """Whether the bearer token is one the server knows."""
        return token in self.data["tokens"]

    def token_scopes(self, token: str) -> list[str]:
        """The scopes a known token carries (every scope for a token from an old state file)."""
        scopes: list[str] = self.data["scopes"].get(token, list(ALL_SCOPES))
        return scopes

    def has_feature(self, org: str, feature: str) -> bool:
        """Whether an org has a feature flag (`global-views`), an org option of the stand-in."""
        record = self.org(org) or {}
        return feature in record.get("features", [])

    def set_feature(self, org: str, feature: str, on: bool = True) -> None:
        """Turn an org feature flag on or off."""
        with self.lock:
            features = self.data["orgs"][org].setdefault("features", [])
            if on and feature not in features:
                features.append(feature)
            if not on and feature in features:
                features.remove(feature)

    def org(self, slug: str) -> dict[str, Any] | None:
        """The organization record or None."""
        org: dict[str, Any] | None = self.data["orgs"].get(slug)
        return org

    def project(self, org: str, slug_or_id: str) -> dict[str, Any] | None:
        """A project by slug or numeric id."""
        record = self.org(org)
        if record is None:
            return None
        for project in record["projects"].values():
            if slug_or_id in (project["slug"], project["id"]):
                return dict(project)
        return None

    def project_by_id(self, project_id: str) -> tuple[str, dict[str, Any]] | None:
        """`(org slug, project)` for a numeric project id (event ingestion)."""
        for slug, org in self.data["orgs"].items():
            for project in org["projects"].values():
                if project["id"] == str(project_id):
                    return slug, dict(project)
        return None

    def dsn(self, base_url: str, org: str, project: str) -> str:
        """The DSN an SDK would use to send events to this project."""
        record = self.project(org, project)
        assert record is not None
        scheme, rest = base_url.rstrip("/").split("://", 1)
        return f"{scheme}://{record['public_key']}@{rest}/{record['id']}"

    # --- releases --------------------------------------------------------------------

    def releases(self, org: str) -> dict[str, dict[str, Any]]:
        """`version -> release` of one org."""
        releases: dict[str, dict[str, Any]] = self.data["releases"].setdefault(org, {})
        return releases

    def release(self, org: str, version: str) -> dict[str, Any] | None:
        """One release record or None."""
        return self.releases(org).get(version)
