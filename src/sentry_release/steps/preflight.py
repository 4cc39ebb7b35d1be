"""What `run` checks about the checkout before its first write: the commits the commits step
will need exist. A manual spec that does not resolve, or a repository without a commit, would
otherwise be found after the release was created (issue #13, item 11)."""

from __future__ import annotations

from sentry_release.config.settings import Settings
from sentry_release.git import GitRepo
from sentry_release.steps.commits import parse_spec, resolve_revision


def check_commits(settings: Settings, repo: GitRepo | None) -> None:
    """Raise ConfigError/GitError (exit 2) when the commits step cannot succeed locally."""
    options = settings.commits
    if options.mode == "manual":
        for spec in map(parse_spec, options.specs):
            resolve_revision(repo, spec.commit, spec)
            if spec.previous:
                resolve_revision(repo, spec.previous, spec)
    elif options.mode in ("auto", "local") and repo is not None:
        _ = repo.head_sha  # an empty repository: "has no commits yet: commit something first"
