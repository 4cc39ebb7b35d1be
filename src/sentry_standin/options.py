"""How strict the stand-in is, and which older or other Sentry it plays.

Strict is the default: every rule in `rules.py` applies. Lenient flags are opt-in, each one
named for the rule it switches off, so a test suite that needs one says which and why.
Modes play other servers (older self-hosted, Bugsink) and are opt-in too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sentry_standin.errors import StandinConfigError

# Lenient flags: each switches off one rule of real Sentry.
LENIENT_FLAGS = {
    "project-slugs": "accept project slugs in `project=` of organization-level reads",
    "deploy-projects": "accept `projects` in a deploy body without project-level access",
    "link-called-host": "build Link URLs from the called host instead of the url-prefix",
    "chunk-url-called-host": "advertise the chunk-upload URL on the called host",
    "sync-refs": "resolve refs before the PUT answers (commitCount fresh at once)",
    "sync-assemble": "answer `ok` as soon as a bundle is assembled (no created/assembling)",
    "all-deploys-listed": "list every deploy, not the latest per project and environment",
}
# Modes: other servers' behaviour.
MODES = {
    "no-previous-with-commits": "404 on previous-with-commits (older self-hosted)",
    "no-null-previous-commit": "refuse `previousCommit: null` in refs (older self-hosted)",
    "no-artifact-bundles": "chunk upload without artifact bundles (older self-hosted)",
    "bugsink": "assemble stays `created` once every chunk is there (Bugsink)",
    "self-hosted-23.7": "Sentry 23.7.1 (the last on PyPI): no dataset=errors/transactions, "
    "sessions in whole minutes, no artifact_bundles_v2, assemble never checks chunks first",
}
CHUNK_URL_STYLES = ("absolute", "relative")
# Org features the stand-in knows (Sentry's `organizations:<name>` flags); all off by default.
FEATURES = ("global-views",)


@dataclass(frozen=True)
class Options:
    """The stand-in's strictness and personality (immutable; `with_` returns a copy)."""

    # Sentry's `system.url-prefix`: where Link and chunk-upload URLs point. None: this server.
    url_prefix: str | None = None
    # `absolute` (url_prefix or this server, like sentry.io) or `relative` (`/api/0/...`,
    # self-hosted without a url-prefix: api/endpoints/chunk.py urljoin on an empty prefix).
    chunk_url: str = "absolute"
    # Sentry's `system.upload-url-prefix` (a region host); None: the url_prefix.
    upload_url_prefix: str | None = None
    lenient: frozenset[str] = field(default_factory=frozenset)
    # Org features every org has (`global-views`); per-org ones live in the store.
    features: frozenset[str] = field(default_factory=frozenset)
    modes: frozenset[str] = field(default_factory=frozenset)
    # Extra reads of a release after a refs PUT before its commits show (the PUT answer is
    # always stale: Sentry fetches them in a background task).
    refs_delay_reads: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.lenient) - set(LENIENT_FLAGS))
        if unknown:
            raise StandinConfigError(
                f"unknown lenient flag {unknown[0]!r} (one of {', '.join(LENIENT_FLAGS)})"
            )
        unknown = sorted(set(self.features) - set(FEATURES))
        if unknown:
            raise StandinConfigError(
                f"unknown feature {unknown[0]!r} (one of {', '.join(FEATURES)})"
            )
        unknown = sorted(set(self.modes) - set(MODES))
        if unknown:
            raise StandinConfigError(f"unknown mode {unknown[0]!r} (one of {', '.join(MODES)})")
        if self.chunk_url not in CHUNK_URL_STYLES:
            raise StandinConfigError(
                f"chunk_url must be one of {', '.join(CHUNK_URL_STYLES)}, got {self.chunk_url!r}"
            )
        for name in ("url_prefix", "upload_url_prefix"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise StandinConfigError(f"{name} must be an http(s) URL, got {value!r}")

    def lenient_on(self, flag: str) -> bool:
        """Whether a lenient flag is on (KeyError for a name that is not one: catch typos)."""
        if flag not in LENIENT_FLAGS:
            raise KeyError(flag)
        return flag in self.lenient

    def mode_on(self, mode: str) -> bool:
        """Whether a mode is on."""
        if mode not in MODES:
            raise KeyError(mode)
        return mode in self.modes

    def for_port(self, port: int) -> Options:
        """The options with `{port}` in the URL prefixes replaced by the server's port."""
        return replace(
            self,
            url_prefix=self.url_prefix.replace("{port}", str(port)) if self.url_prefix else None,
            upload_url_prefix=(
                self.upload_url_prefix.replace("{port}", str(port))
                if self.upload_url_prefix
                else None
            ),
        )

    def with_(self, *, lenient: Iterable[str] = (), modes: Iterable[str] = ()) -> Options:
        """A copy with more lenient flags or modes."""
        return replace(
            self, lenient=self.lenient | frozenset(lenient), modes=self.modes | frozenset(modes)
        )


STRICT = Options()
