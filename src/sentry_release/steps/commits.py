"""Step 3: which commits belong to the release, sent as integration refs or local history.

- manual: `owner/repo@SHA` or `owner/repo@PREV..SHA` specs become a `refs` PUT.
- auto: the Sentry repository whose URL matches this checkout's remote (or GITHUB_REPOSITORY)
  gets a `refs` PUT with HEAD and the previous release's commit; no match falls back to local.
- local: the commits after the previous release's `lastCommit` up to HEAD, read with one
  streaming `git log`, sent with patch sets in one `commits` PUT (Sentry replaces a release's
  commits on every such PUT, so batches would erase each other; see docs/commits.md).
Shallow clones are deepened (bounded) until the previous commit is found; otherwise the run
fails with the fix, or with --ignore-missing sends the last --initial-depth commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from sentry_release.config.settings import CommitOptions, Settings
from sentry_release.errors import ConfigError, GitError, SentryAPIError
from sentry_release.git import DEEPEN_STEPS, GitRepo, LogCommit
from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import Repo

HEX_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Sentry's CommitSerializer limits: longer values make the whole PUT fail with 400.
MAX_AUTHOR_NAME = 128
MAX_AUTHOR_EMAIL = 75
MAX_REPOSITORY = 64
MAX_PATH = 510
FETCH_DEPTH_FIX = "set fetch-depth: 0 in actions/checkout (or run git fetch --unshallow)"
# The scopes that list repositories on every Sentry version tested: 23.7.1's
# OrganizationIntegrationsLoosePermission GET (`api/bases/organization.py`); today's adds org:ci.
REPOS_LIST_SCOPES = ("org:read", "org:integrations")


@dataclass(frozen=True)
class Association:
    """One row of the "what was associated" table."""

    repository: str
    mode: str  # refs | local
    previous: str | None
    head: str
    count: int | None  # None: refs, whose commits Sentry fetches in the background


@dataclass(frozen=True)
class CommitsResult:
    """What set-commits did."""

    mode: str
    associations: tuple[Association, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int | None:
        """Commits associated in total; None when Sentry fetches them itself (refs): its
        answer to the PUT predates that background task, so any count there is stale."""
        counts = [a.count for a in self.associations]
        return None if any(c is None for c in counts) else sum(c for c in counts if c)


# --- pure parts -------------------------------------------------------------------------


@dataclass(frozen=True)
class RefSpec:
    """A manual `--commit`: repository, head revision and optional previous revision."""

    repository: str
    commit: str
    previous: str | None = None


def parse_spec(spec: str) -> RefSpec:
    """`owner/repo@SHA` or `owner/repo@PREV..SHA` (revisions may be tags or branches)."""
    repository, sep, revs = spec.strip().partition("@")
    previous, dots, commit = revs.partition("..")
    if not dots:
        previous, commit = "", revs
    if not sep or not repository.strip() or not commit.strip() or (dots and not previous.strip()):
        raise ConfigError(
            f"--commit {spec!r} is not owner/repo@SHA or owner/repo@PREV..SHA: fix the value"
        )
    return RefSpec(repository.strip(), commit.strip(), previous.strip() or None)


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!/).+)$")


def normalize_url(url: str | None) -> str | None:
    """A comparable form of a git remote or repository URL: `host/owner/repo`, lowercase.

    https, http, ssh://, git://, scp-like `git@host:owner/repo` and `.git`/trailing-slash
    variants of one repository compare equal; local paths and file:// URLs become the path.
    """
    if not url:
        return None
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme == "file":
            host, path = "", unquote(parts.path)
        else:
            host, path = (parts.hostname or ""), unquote(parts.path)
    elif text.startswith(("/", ".", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        host, path = "", text
    else:
        match = _SCP_LIKE.match(text)
        if not match:
            return None
        host, path = match["host"], match["path"]
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    path = path.rstrip("/")
    if not path:
        return None
    return f"{host.lower()}/{path.lower()}" if host else "/" + path.lower()


def repo_name_from_url(url: str | None) -> str | None:
    """`owner/repo` (case kept) from a remote URL, the name Sentry's integrations use."""
    norm = normalize_url(url)
    if norm is None or url is None:
        return None
    text = url.strip().rstrip("/")
    if text.endswith(".git"):
        text = text[: -len(".git")]
    parts = [p for p in re.split(r"[/:]", text) if p]
    if len(parts) < 2:
        return None
    return f"{parts[-2]}/{parts[-1]}"


def identity_urls(remote_url: str | None, environ: Mapping[str, str]) -> list[str]:
    """URLs this checkout is known by: GitHub's view of the job's repository, then the remote."""
    urls = []
    github_repo = (environ.get("GITHUB_REPOSITORY") or "").strip()
    if github_repo:
        server = (environ.get("GITHUB_SERVER_URL") or "https://github.com").strip().rstrip("/")
        urls.append(f"{server}/{github_repo}")
    if remote_url:
        urls.append(remote_url)
    return urls


def match_repo(repos: Iterable[Repo], urls: Sequence[str]) -> Repo | None:
    """The integration repository whose URL matches one of `urls` (first URL wins)."""
    wanted = [n for n in (normalize_url(u) for u in urls) if n]
    candidates = [r for r in repos if _integrated(r)]
    for norm in wanted:
        for repo in candidates:
            if repo.url and normalize_url(repo.url) == norm:
                return repo
    return None


def _integrated(repo: Repo) -> bool:
    """Backed by an integration (it has a URL and a provider); repos that Sentry created
    from local commits have neither, and refs to them could never be resolved."""
    return bool(repo.url) and repo.provider not in (None, "unknown")


def commit_payload(commit: LogCommit, repository: str, warnings: list[str]) -> dict[str, Any]:
    """One commit in Sentry's `commits` shape, kept within Sentry's field limits."""
    payload: dict[str, Any] = {
        "id": commit.sha,
        "repository": repository,
        "author_name": commit.author_name[:MAX_AUTHOR_NAME],
        "timestamp": commit.timestamp,
        "message": commit.message,
        "patch_set": [],
    }
    if len(commit.author_email) <= MAX_AUTHOR_EMAIL:
        payload["author_email"] = commit.author_email
    else:
        warnings.append(
            f"commit {commit.sha[:12]}: author email longer than {MAX_AUTHOR_EMAIL} "
            "characters left out (Sentry rejects it)"
        )
    for kind, path in commit.changes:
        if len(path) > MAX_PATH:
            warnings.append(
                f"commit {commit.sha[:12]}: path longer than {MAX_PATH} characters left out"
            )
            continue
        payload["patch_set"].append({"path": path, "type": kind})
    return payload


def describe_range(association: Association) -> str:
    """`prev..head` for the table, with shortened shas."""
    head = association.head[:12]
    if association.previous:
        return f"{association.previous[:12]}..{head}"
    return f"..{head}" if association.mode == "local" else head


# --- the step ---------------------------------------------------------------------------


def associate_commits(
    settings: Settings,
    client: SentryApi,
    repo: GitRepo | None,
    version: str,
    out: Output,
    *,
    environ: Mapping[str, str] | None = None,
) -> CommitsResult:
    """Associate commits with `version` according to `settings.commits.mode`."""
    options = settings.commits
    env = environ or {}
    if options.mode == "skip":
        return CommitsResult("skip")
    org = settings.org
    if not org:
        raise ConfigError("organization is missing: set SENTRY_ORG or pass --org")
    if options.mode == "manual":
        result = _manual(client, org, repo, version, options.specs)
    else:
        if repo is None:
            raise GitError(
                f"set-commits {options.mode} needs a git checkout: run inside one or pass --cwd"
            )
        if options.mode == "auto":
            result = _auto(settings, client, org, repo, version, out, env)
        else:
            result = _local(settings, client, org, repo, version, out, env, mode="local")
    for warning in result.warnings:
        out.warn(warning)
    report(out, result, version, dry_run=settings.dry_run)
    return result


def nothing_new(out: Output, options: CommitOptions, why: str) -> None:
    """No new commits: never a failure (a re-run of the same release must stay safe), but a
    warning unless it was expected (--ignore-empty-commits, action-release's ignore_empty)."""
    if options.ignore_empty:
        out.info(f"{why}: no new commits, leaving the release's commits alone")
    else:
        out.warn(
            f"{why}: no new commits to associate, the release's commits are left alone "
            "(pass --ignore-empty-commits, or ignore_empty, when that is expected)"
        )


def report(out: Output, result: CommitsResult, version: str, *, dry_run: bool = False) -> None:
    """The table of what was associated, then one result line."""
    if not result.associations:
        return
    out.table(
        ["repository", "mode", "range", "commits"],
        [
            [
                a.repository,
                a.mode,
                describe_range(a),
                "fetched by Sentry" if a.count is None else str(a.count),
            ]
            for a in result.associations
        ],
    )
    if result.mode == "local":
        verb = "Would associate" if dry_run else "Associated"
        out.result(f"{verb} {result.count} commit(s) with release {version}")
    else:
        verb = "Would send" if dry_run else "Sent"
        out.result(
            f"{verb} commit refs of {len(result.associations)} repository(ies) for {version}"
        )


def _manual(
    client: SentryApi,
    org: str,
    repo: GitRepo | None,
    version: str,
    specs: Sequence[str],
) -> CommitsResult:
    parsed = [parse_spec(s) for s in specs]
    if not parsed:
        raise ConfigError("set-commits manual needs --commit owner/repo@SHA")
    refs = []
    for spec in parsed:
        head = resolve_revision(repo, spec.commit, spec)
        previous = resolve_revision(repo, spec.previous, spec) if spec.previous else None
        refs.append(ref_payload(spec.repository, head, previous))
    client.set_refs(org, version, refs)
    return _refs_result(refs)


def resolve_revision(repo: GitRepo | None, rev: str, spec: RefSpec) -> str:
    """A full sha for a spec's revision: as given when it is one, else resolved in the repo."""
    if FULL_SHA.match(rev):
        return rev
    if repo is not None:
        resolved = repo.resolve(rev)
        if resolved:
            return resolved
    if HEX_SHA.match(rev) and repo is None:
        return rev
    raise ConfigError(
        f"--commit {spec.repository}@...: cannot resolve {rev!r} in this checkout: "
        "give a full commit sha"
    )


def ref_payload(repository: str, commit: str, previous: str | None) -> dict[str, str]:
    """One ref for `PUT .../releases/{v}/`. `previousCommit` is left out when unknown rather
    than sent as null: Sentry reads both as "from the previous release" (`set_refs` in
    `models/release.py`), and older self-hosted versions refuse the null."""
    ref = {"repository": repository, "commit": commit}
    if previous:
        ref["previousCommit"] = previous
    return ref


def _refs_result(refs: Sequence[Mapping[str, Any]]) -> CommitsResult:
    # Sentry resolves refs in a background task (fetch_commits): the release in the PUT's
    # answer does not hold them yet, so no count is claimed.
    return CommitsResult(
        "refs",
        tuple(
            Association(r["repository"], "refs", r.get("previousCommit"), r["commit"], None)
            for r in refs
        ),
    )


def _auto(
    settings: Settings,
    client: SentryApi,
    org: str,
    repo: GitRepo,
    version: str,
    out: Output,
    environ: Mapping[str, str],
) -> CommitsResult:
    remote = settings.commits.remote
    remote_url = repo.remote_url(remote)
    urls = identity_urls(remote_url, environ)
    try:
        repos = list(client.list_repos(org))
    except SentryAPIError as exc:
        if exc.status not in (403, 404):
            raise
        if exc.status == 403:
            # Decided by the server's answer, not by its version: Sentry 23.7.1 lets only
            # org:read/write/admin/integrations list repositories, today's Sentry org:ci too.
            out.warn(repos_refused_warning(org, exc.detail))
            return _local(settings, client, org, repo, version, out, environ, mode="local")
        repos = []
        why = f"cannot list the organization's repositories ({exc.detail or exc.status})"
    else:
        why = ""
    integrated = [r for r in repos if _integrated(r)]
    matched = match_repo(integrated, urls) if urls else None
    if matched is None:
        if not why:
            if not urls:
                why = f"this checkout has no remote {remote!r} and GITHUB_REPOSITORY is not set"
            elif not integrated:
                why = (
                    "no repositories are connected to Sentry through an integration "
                    "(Settings > Integrations)"
                )
            else:
                known = ", ".join(sorted(r.name for r in integrated)[:5])
                why = f"no Sentry repository matches {' or '.join(urls)} (Sentry has: {known})"
        out.info(f"{why}; associating commits from the local git history instead")
        return _local(settings, client, org, repo, version, out, environ, mode="local", repos=repos)
    head = repo.head_sha
    name = matched.name
    previous = _previous_commit(client, org, version, name)
    refs = [ref_payload(name, head, previous)]
    client.set_refs(org, version, refs)
    return _refs_result(refs)


def repos_refused_warning(org: str, detail: str | None) -> str:
    """The one line `auto` prints when the token may not list the repositories (403).

    Why local history and not refs named after the remote: Sentry's `Release.set_refs`
    (`models/release.py`, 23.7.1 and today) accepts only names it already has (400 "Invalid
    repository names" otherwise), and for a repository without an integration provider its
    `fetch_commits` task (`tasks/commits.py`) finds no provider and fetches nothing: the
    refs would be accepted and the release left without commits. Listing is the only way to
    know a name is an integration's, so without it the local path is the safe one.
    """
    needs = " or ".join(REPOS_LIST_SCOPES)
    return (
        f"set-commits auto: this token may not list the repositories of {org} "
        f"(403 on GET /organizations/{org}/repos/: {detail or 'permission denied'}); "
        f"associated commits from the local git history instead. A token with {needs} "
        "lets auto send refs to the repository integration, which fetches them itself "
        "(self-hosted Sentry 23.x does not grant this list to org:ci)"
    )


def _previous_commit(
    client: SentryApi, org: str, version: str, repository: str | None = None
) -> str | None:
    """The previous release's lastCommit; with `repository`, only when it is that repo's
    (a different repository's sha would make a meaningless range)."""
    previous = client.previous_release_with_commits(org, version)
    if previous is None or not previous.last_commit_id:
        return None
    owner = previous.last_commit_repository if repository else None
    if owner and repository and not same_repository(owner, repository):
        return None
    return previous.last_commit_id


def same_repository(a: str, b: str) -> bool:
    """Whether two repository names may mean the same repository. Only two `owner/repo`
    names can tell repositories apart; a checkout without a remote is named after its
    directory, and treating that as "another repository" would silently drop the range
    start (a wrong range) instead of reporting a missing commit."""
    a, b = a.lower().strip("/"), b.lower().strip("/")
    if "/" in a and "/" in b:
        return a == b
    return True


def _local(
    settings: Settings,
    client: SentryApi,
    org: str,
    repo: GitRepo,
    version: str,
    out: Output,
    environ: Mapping[str, str],
    *,
    mode: str,
    repos: Sequence[Repo] = (),
) -> CommitsResult:
    options = settings.commits
    head = repo.head_sha
    warnings: list[str] = []
    repository = local_repository_name(repo, options.remote, environ, repos)
    # The previous release's last commit bounds the range only when it is this repository's.
    previous = _previous_commit(client, org, version, repository)
    if previous == head:
        nothing_new(out, options, f"the previous release already ends at HEAD ({head[:12]})")
        return CommitsResult(mode, (Association(repository, mode, previous, head, 0),))
    revs: list[str]
    max_count: int | None = None
    if previous is None:
        out.info(f"no previous release with commits: sending the last {options.initial_depth}")
        revs, max_count = [head], options.initial_depth
        warnings += fill_depth(repo, options.initial_depth, options.remote, out)
    else:
        problem = ensure_commit(repo, previous, options.remote, out)
        if problem is None:
            revs = [f"{previous}..{head}"]
        elif options.ignore_missing:
            warnings.append(f"{problem}; sending the last {options.initial_depth} commits instead")
            previous, revs, max_count = None, [head], options.initial_depth
            warnings += fill_depth(repo, options.initial_depth, options.remote, out)
        else:
            raise GitError(
                f"{problem}: {FETCH_DEPTH_FIX if repo.is_shallow() else 'check the history'}, "
                f"or pass --ignore-missing to send the last {options.initial_depth} commits"
            )
    commits = [commit_payload(c, repository, warnings) for c in repo.log(revs, max_count=max_count)]
    if commits:
        client.set_commits(org, version, commits)
    else:
        nothing_new(out, options, "no commits in the range")
    return CommitsResult(
        mode,
        (Association(repository, mode, previous, head, len(commits)),),
        tuple(warnings),
    )


def local_repository_name(
    repo: GitRepo,
    remote: str,
    environ: Mapping[str, str],
    repos: Sequence[Repo] = (),
) -> str:
    """The repository name local commits are filed under: `owner/repo` from the remote URL
    (or GITHUB_REPOSITORY), spelled as Sentry spells it when it already knows the repo."""
    name = repo_name_from_url(repo.remote_url(remote)) or (
        (environ.get("GITHUB_REPOSITORY") or "").strip() or None
    )
    if name is None:
        name = repo.root.name
    for known in repos:
        if known.name.lower() == name.lower():
            return known.name
    return name[:MAX_REPOSITORY]


def fill_depth(repo: GitRepo, depth: int, remote: str, out: Output) -> list[str]:
    """Make a shallow clone hold the last `depth` commits (the range without a previous
    release), fetching what is missing from `remote`; a warning when it cannot (the range
    is then shorter than asked). actions/checkout clones 1 commit by default."""
    if not repo.is_shallow():
        return []
    have = repo.count(repo.head_sha, depth)
    if have >= depth:
        return []
    short = f"this shallow clone holds {have} of the last {depth} commits"
    if repo.remote_url(remote) is None:
        return [f"{short} and there is no remote {remote!r} to fetch more from: {FETCH_DEPTH_FIX}"]
    more = depth - have + 1  # one past the range: its oldest commit's diff needs the parent
    out.info(f"shallow clone: fetching {more} more commits of history from {remote}")
    try:
        repo.deepen(remote, more)
    except GitError as exc:
        return [f"{short} and fetching more failed ({exc}): {FETCH_DEPTH_FIX}"]
    return []


def ensure_commit(repo: GitRepo, sha: str, remote: str, out: Output) -> str | None:
    """Make `sha` usable as the range start; None when it is, else why not.

    In a shallow clone the commit must be present and an ancestor of HEAD (otherwise the
    range would run to the shallow boundary: a wrong range). Deepen from `remote` in
    growing steps, bounded by DEEPEN_STEPS, until it is.
    """

    def usable() -> bool:
        if not repo.has_commit(sha):
            return False
        return not repo.is_shallow() or repo.is_ancestor(sha, repo.head_sha)

    if usable():
        return None
    missing = f"the previous release's commit {sha[:12]} is not in the git history"
    if not repo.is_shallow():
        return f"{missing} (amended, squashed or force-pushed away?)"
    if repo.remote_url(remote) is None:
        return f"{missing} of this shallow clone and there is no remote {remote!r} to fetch from"
    fetched = 0
    for step in DEEPEN_STEPS:
        out.info(f"shallow clone: fetching {step} more commits of history from {remote}")
        try:
            repo.deepen(remote, step)
        except GitError as exc:
            return f"{missing} of this shallow clone and fetching more failed ({exc})"
        fetched += step
        if usable():
            out.info(f"found {sha[:12]} after deepening by {fetched} commits")
            return None
        if not repo.is_shallow():
            return f"{missing} even with the full history (amended, squashed or force-pushed?)"
    return f"{missing} within {fetched} more commits of this shallow clone"
