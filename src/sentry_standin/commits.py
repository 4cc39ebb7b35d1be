"""Stand-in endpoints for commits: repos, refs and commits on a release, reading them back.

What real Sentry does, and so what this does:
- A `commits` PUT *replaces* the release's commits (Sentry's `Release.set_commits` deletes
  the release's ReleaseCommits first), creates unknown repositories by name, and makes the
  first commit of the list the release's `lastCommit` (and each repo's head commit).
- A `refs` PUT needs repositories Sentry already knows (400 "Invalid repository names")
  and records each repo's head commit. Sentry then asks the provider (GitHub's compare API)
  for the commits between `previousCommit` (or the previous release's head commit for that
  repo, or else the provider's last page of history) and `commit`, and stores them as
  above. The stand-in has no GitHub: it asks git instead when the repository is a local
  one (`--repo owner/name=file:///path` or a path, or `add_repo(..., git_dir=...)`), and
  otherwise records the ref pair and the head as `lastCommit` with no commits, which is
  what Sentry shows while (or when) its fetch fails. Nothing is made up.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sentry_standin.routing import ORG, HTTPError, Request, Response, paginate, route
from sentry_standin.rules import (
    ORGANIZATION_INTEGRATIONS_LOOSE_PERMISSION,
    ORGANIZATION_RELEASE_PERMISSION,
)
from sentry_standin.store import Store, now_iso, parse_iso, to_iso

RELEASE = ORG + r"/releases/(?P<version>[^/]+)"
PATCH_TYPES = ("A", "D", "M")
SKIP_MARKER = "#skipsentry"  # Sentry drops commits whose message carries it
PROVIDER_PAGE = 30  # GitHub's default page: what Sentry fetches when there is no start
# Field limits of Sentry's CommitSerializer / CommitPatchSetSerializer.
LIMITS = {"id": 64, "repository": 64, "author_name": 128, "author_email": 75}
MAX_PATH = 510
GIT_TIMEOUT = 30.0
_RECORD, _FIELD = "\x1e", "\x1f"


# --- state --------------------------------------------------------------------------------


def _repos(store: Store, org: str) -> list[dict[str, Any]]:
    repos: list[dict[str, Any]] = store.data.setdefault("repos", {}).setdefault(org, [])
    return repos


def find_repo(store: Store, org: str, name: str) -> dict[str, Any] | None:
    """A repository of the org by its exact name (Sentry's lookup is exact)."""
    for repo in _repos(store, org):
        if repo["name"] == name:
            return repo
    return None


def local_git_dir(url: str) -> str | None:
    """The directory behind a file:// URL or an absolute path, when it exists."""
    if url.startswith("file://"):
        path = Path(unquote(urlsplit(url).path))
    elif url.startswith("/"):
        path = Path(url)
    else:
        return None
    return str(path) if path.exists() else None


def add_repo(
    store: Store,
    org: str,
    name: str,
    url: str | None,
    *,
    provider: str | None = "integrations:github",
    git_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Register a repository as if Sentry's GitHub integration had it (idempotent by name).

    `git_dir` stands in for GitHub's API when resolving ref ranges; a file:// or path URL
    is its own git_dir.
    """
    with store.lock:
        repo = find_repo(store, org, name)
        if repo is None:
            repo = {
                "id": str(store.next_id()),
                "name": name,
                "url": url,
                "provider": provider,
                "status": "active",
                "dateCreated": now_iso(store),
                "gitDir": None,
            }
            _repos(store, org).append(repo)
        repo["url"] = url if url is not None else repo["url"]
        source = str(git_dir) if git_dir is not None else (local_git_dir(url) if url else None)
        if source:
            repo["gitDir"] = source
        return repo


def repo_json(repo: dict[str, Any]) -> dict[str, Any]:
    """A repository as Sentry serialises it."""
    provider = repo.get("provider")
    names = {"integrations:github": "GitHub", "integrations:gitlab": "GitLab"}
    return {
        "id": repo["id"],
        "name": repo["name"],
        "url": repo.get("url"),
        "provider": {
            "id": provider or "unknown",
            "name": names.get(provider or "", "Unknown Provider"),
        },
        "status": repo["status"],
        "dateCreated": repo["dateCreated"],
        "integrationId": "1" if provider else None,
        "externalSlug": repo["name"] if provider else None,
        "externalId": repo["id"] if provider else None,
    }


def commit_json(store: Store, org: str, commit: dict[str, Any]) -> dict[str, Any]:
    """A commit as Sentry's release commits endpoint serialises it."""
    repo = find_repo(store, org, commit["repository"])
    author = None
    if commit.get("author_email") or commit.get("author_name"):
        author = {"name": commit.get("author_name"), "email": commit.get("author_email")}
    return {
        "id": commit["id"],
        "message": commit.get("message"),
        "dateCreated": commit.get("timestamp"),
        "pullRequest": None,
        "suspectCommitType": "",
        "repository": repo_json(repo) if repo else None,
        "author": author,
    }


# --- validation -----------------------------------------------------------------------------


def _validate_commit(index: int, data: Any) -> dict[str, Any]:
    """One commit of a `commits` body, checked as Sentry's serializer does."""

    def fail(field: str, message: str) -> HTTPError:
        errors: list[dict[str, Any]] = [{} for _ in range(index)]
        errors.append({field: [message]})
        return HTTPError(400, {"commits": errors})

    if not isinstance(data, dict):
        raise fail("non_field_errors", "Invalid data. Expected a dictionary, but got list.")
    if not data.get("id"):
        raise fail("id", "This field is required.")
    for key, limit in LIMITS.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise fail(key, "Not a valid string.")
        if len(value) > limit:
            raise fail(key, f"Ensure this field has no more than {limit} characters.")
    timestamp = data.get("timestamp")
    if timestamp:
        try:
            timestamp = to_iso(parse_iso(str(timestamp)))
        except ValueError:
            raise fail("timestamp", "Datetime has wrong format.") from None
    patch_set = data.get("patch_set") or []
    if not isinstance(patch_set, list):
        raise fail("patch_set", 'Expected a list of items but got type "dict".')
    changes = []
    for change in patch_set:
        if not isinstance(change, dict) or not isinstance(change.get("path"), str):
            raise fail("patch_set", "path: This field is required.")
        if len(change["path"]) > MAX_PATH:
            raise fail("patch_set", f"path: no more than {MAX_PATH} characters.")
        if change.get("type") not in PATCH_TYPES:
            raise fail("patch_set", f"Commit patch_set type {change.get('type')} is not supported.")
        changes.append({"path": change["path"], "type": change["type"]})
    return {
        "id": data["id"],
        "repository": data.get("repository") or None,
        "message": data.get("message"),
        "author_name": data.get("author_name"),
        "author_email": data.get("author_email"),
        "timestamp": timestamp,
        "patch_set": changes,
    }


# --- applying commits and refs ----------------------------------------------------------------


def set_commits(
    store: Store, org: str, release: dict[str, Any], commits: list[dict[str, Any]]
) -> None:
    """Replace the release's commits, as Sentry's `Release.set_commits` does."""
    org_id = (store.org(org) or {}).get("id", "0")
    kept = []
    seen: set[tuple[str, str]] = set()
    for commit in commits:
        if SKIP_MARKER in (commit.get("message") or ""):
            continue
        repo_name = commit.get("repository") or f"organization-{org_id}"
        key = (repo_name, commit["id"])
        if key in seen:
            continue
        seen.add(key)
        if find_repo(store, org, repo_name) is None:
            add_repo(store, org, repo_name, None, provider=None)
        kept.append({**commit, "repository": repo_name})
    release["commits"] = kept
    heads: dict[str, str] = {}
    for commit in kept:
        heads.setdefault(commit["repository"], commit["id"])
    release["headCommits"] = heads
    release["lastCommit"] = commit_json(store, org, kept[0]) if kept else None


def apply_commits(request: Request, org: str, release: dict[str, Any], commits: Any) -> None:
    """Local mode: validate and store the commits as sent (replacing earlier ones)."""
    if not isinstance(commits, list):
        raise HTTPError(400, {"commits": ['Expected a list of items but got type "dict".']})
    checked = [_validate_commit(i, c) for i, c in enumerate(commits)]
    set_commits(request.store, org, release, checked)


def _previous_release(store: Store, org: str, release: dict[str, Any]) -> dict[str, Any] | None:
    """The newest release created before this one that shares a project."""
    older = [
        r
        for r in store.releases(org).values()
        if r is not release
        and set(r["projects"]) & set(release["projects"])
        and (r["dateCreated"], int(r["id"])) < (release["dateCreated"], int(release["id"]))
    ]
    return max(older, key=lambda r: (r["dateCreated"], int(r["id"]))) if older else None


def _git(git_dir: str, *args: str) -> str | None:
    """Plain `git` in the repository, stdout or None when it fails (unknown sha, no repo)."""
    try:
        done = subprocess.run(
            ["git", "-C", git_dir, *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_history(
    git_dir: str, revisions: list[str], max_count: int | None = None
) -> list[dict[str, Any]] | None:
    """Commits of `git log REVISIONS` with their file changes, newest first; None on failure."""
    fmt = _RECORD + _FIELD.join(("%H", "%an", "%ae", "%aI", "%B")) + _FIELD
    args = ["log", f"--format={fmt}", "--name-status", "--no-renames"]
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    out = _git(git_dir, *args, *revisions, "--")
    if out is None:
        return None
    history = []
    for record in out.split(_RECORD)[1:]:
        sha, name, email, date, message, changes = record.split(_FIELD, 5)
        patch_set = []
        for line in changes.strip().splitlines():
            kind, _, path = line.partition("\t")
            if path and kind[:1] in PATCH_TYPES:
                patch_set.append({"path": path, "type": kind[:1]})
        history.append(
            {
                "id": sha,
                "author_name": name,
                "author_email": email,
                "timestamp": to_iso(parse_iso(date)),
                "message": message.strip(),
                "patch_set": patch_set,
            }
        )
    return history


def _resolve_range(
    repo: dict[str, Any], previous: str | None, head: str
) -> list[dict[str, Any]] | None:
    """Commits (previous, head] from the repo's git source; None when it cannot tell."""
    git_dir = repo.get("gitDir")
    if not git_dir:
        return None
    for sha in (head, previous):
        if sha and _git(git_dir, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}") is None:
            return None
    if previous:
        history = git_history(git_dir, [f"{previous}..{head}"])
    else:
        history = git_history(git_dir, [head], max_count=PROVIDER_PAGE)
    if history is None:
        return None
    return [{**c, "repository": repo["name"]} for c in history]


def settle(store: Store, org: str, release: dict[str, Any], *, force: bool = False) -> None:
    """Finish a pending refs resolution: Sentry fetches the commits of a refs PUT in a
    background task (tasks/commits.py fetch_commits), so they show only on a later read."""
    pending = release.get("pendingRefs")
    if pending is None:
        return
    pending["readsLeft"] = int(pending.get("readsLeft", 0)) - 1
    if force or pending["readsLeft"] < 0:
        del release["pendingRefs"]
        _finish_refs(store, org, release, pending["fetched"], pending["recorded"])


def _finish_refs(
    store: Store,
    org: str,
    release: dict[str, Any],
    fetched: list[dict[str, Any]],
    recorded: list[dict[str, Any]],
) -> None:
    if fetched:
        set_commits(store, org, release, fetched)
    if not fetched and recorded:
        # Unresolvable here (as when Sentry's fetch fails): keep what the release had and
        # point lastCommit at the head, which is all that is known.
        first = recorded[0]
        release["lastCommit"] = commit_json(
            store, org, {"id": first["commit"], "repository": first["repository"]}
        )


def apply_refs(request: Request, org: str, release: dict[str, Any], refs: Any) -> None:
    """Integration mode: check the repositories, then resolve each ref pair (see module doc)."""
    store = request.store
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise HTTPError(400, {"refs": ["Expected a list of items."]})
    for ref in refs:
        if not ref.get("repository") or not ref.get("commit"):
            raise HTTPError(400, {"refs": [{"commit": ["This field is required."]}]})
        if (
            request.options.mode_on("no-null-previous-commit")
            and "previousCommit" in ref
            and ref["previousCommit"] is None
        ):
            # Older self-hosted: the refs serializer's previousCommit had no allow_null.
            raise HTTPError(400, {"refs": [{"previousCommit": ["This field may not be null."]}]})
        commit = str(ref["commit"])
        if ".." in commit and not ref.get("previousCommit"):
            ref["previousCommit"], ref["commit"] = commit.split("..", 1)
    names = sorted({str(r["repository"]) for r in refs})
    unknown = [n for n in names if find_repo(store, org, n) is None]
    if unknown:
        raise HTTPError(400, {"refs": [f"Invalid repository names: {','.join(unknown)}"]})
    previous_release = _previous_release(store, org, release)
    fetched: list[dict[str, Any]] = []
    recorded = []
    for ref in refs:
        repo = find_repo(store, org, str(ref["repository"]))
        assert repo is not None
        head = str(ref["commit"])
        previous = ref.get("previousCommit") or None
        if previous is None and previous_release is not None:
            previous = previous_release.get("headCommits", {}).get(repo["name"])
        resolved = _resolve_range(repo, previous, head)
        recorded.append(
            {
                "repository": repo["name"],
                "commit": head,
                "previousCommit": previous,
                "resolved": resolved is not None,
            }
        )
        fetched.extend(resolved or [])
    release["refs"] = recorded
    # ReleaseHeadCommit rows are written before the PUT answers (models/release.py set_refs);
    # the commits come from a background task, so they show only on a later read.
    heads = dict(release.get("headCommits") or {})
    for ref in recorded:
        heads[ref["repository"]] = ref["commit"]
    release.pop("pendingRefs", None)
    if request.options.lenient_on("sync-refs"):
        _finish_refs(store, org, release, fetched, recorded)
    else:
        release["pendingRefs"] = {
            "fetched": fetched,
            "recorded": recorded,
            "readsLeft": request.options.refs_delay_reads,
        }
    release["headCommits"] = {**release.get("headCommits", {}), **heads}


# --- routes -------------------------------------------------------------------------------------


@route("GET", ORG + "/repos/", ORGANIZATION_INTEGRATIONS_LOOSE_PERMISSION)
def list_repos(request: Request) -> Response:
    """The org's repositories (active ones, as Sentry's default `status` filter)."""
    org = request.org()
    if request.options.mode_on("self-hosted-23.7"):
        from sentry_standin import rules

        if not request.has_scope(*rules.REPOS_GET_SCOPES_23_7):
            raise HTTPError(403, rules.NO_PERMISSION)
    status = request.arg("status", "active")
    items = [
        repo_json(r)
        for r in _repos(request.store, org["slug"])
        if status in ("", "all") or r["status"] == status
    ]
    if request.options.mode_on("self-hosted-23.7"):  # its repository serializer: no externalId
        for item in items:
            item.pop("externalId", None)
    return paginate(request, items)


@route("GET", RELEASE + "/commits/", ORGANIZATION_RELEASE_PERMISSION)
def list_release_commits(request: Request) -> Response:
    """The release's commits, newest first as sent (optionally of one `repo_name`)."""
    rel = request.release()
    org = request.params["org"]
    settle(request.store, org, rel)
    commits = rel.get("commits", [])
    repo_name = request.arg("repo_name")
    if repo_name:
        if find_repo(request.store, org, repo_name) is None:
            raise HTTPError(404)
        commits = [c for c in commits if c["repository"] == repo_name]
    return paginate(request, [commit_json(request.store, org, c) for c in commits])


@route("GET", RELEASE + "/commitfiles/", ORGANIZATION_RELEASE_PERMISSION)
def list_commit_files(request: Request) -> Response:
    """The file changes of the release's commits (Sentry's CommitFileChange rows)."""
    rel = request.release()
    org = request.params["org"]
    org_id = (request.store.org(org) or {}).get("id")
    repo_name = request.arg("repo_name")
    items: list[dict[str, Any]] = []
    for commit in rel.get("commits", []):
        if repo_name and commit["repository"] != repo_name:
            continue
        for change in commit.get("patch_set", []):
            items.append(
                {
                    "id": f"{commit['id'][:12]}:{len(items)}",
                    "orgId": int(org_id) if org_id else None,
                    "author": {
                        "name": commit.get("author_name"),
                        "email": commit.get("author_email"),
                    },
                    "commitMessage": commit.get("message"),
                    "filename": change["path"],
                    "type": change["type"],
                    "repoName": commit["repository"],
                }
            )
    return paginate(request, items)
