"""The click CLI: one thin command per verb. Each parses, builds Settings, calls one core
function and prints the outcome; `main` is the one place errors become output and exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sentry_release import __version__
from sentry_release.config.settings import Settings, from_values, is_loopback
from sentry_release.errors import ConfigError, SentryReleaseError
from sentry_release.output import Output
from sentry_release.redact import redact

if TYPE_CHECKING:
    from sentry_release.git import GitRepo
    from sentry_release.sentry.client import SentryClient

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


connection_options = _stack(
    click.option("--url", envvar="SENTRY_URL", help="Sentry URL (self-hosted). [env: SENTRY_URL]"),
    click.option(
        "--auth-token",
        envvar="SENTRY_AUTH_TOKEN",
        show_envvar=False,
        help="Auth token. [env: SENTRY_AUTH_TOKEN]",
    ),
    click.option("--org", "-o", envvar="SENTRY_ORG", help="Organization slug. [env: SENTRY_ORG]"),
    click.option(
        "--project",
        "-p",
        "projects",
        multiple=True,
        envvar="SENTRY_PROJECT",
        help="Project slug; repeat or separate by space/comma. [env: SENTRY_PROJECT]",
    ),
    click.option("--cwd", type=click.Path(file_okay=False), help="Git checkout to work in."),
    click.option("--dry-run", is_flag=True, help="Print every request instead of sending it."),
    click.option(
        "--debug",
        is_flag=True,
        envvar="SENTRY_RELEASE_DEBUG",
        help="Log HTTP calls; show tracebacks.",
    ),
    click.option("--timeout", help="Per-request timeout (seconds or 30s/1m).", default=None),
    click.option(
        "--retry-budget",
        envvar="SENTRY_RELEASE_RETRY_BUDGET",
        default=None,
        help="Time one API call may spend retrying. [default: 120s] "
        "[env: SENTRY_RELEASE_RETRY_BUDGET]",
    ),
    click.option(
        "--ca-bundle",
        envvar="SENTRY_CA_BUNDLE",
        help="CA bundle for self-hosted TLS (also REQUESTS_CA_BUNDLE).",
    ),
)

version_options = _stack(
    click.option("--release-prefix", "release_prefix", help="Prefix for the release (web@)."),
    click.option("--tag-pattern", help="Glob for tags at HEAD that name a release (web@*)."),
)

commit_options = _stack(
    click.option(
        "--mode",
        "commit_mode",
        type=click.Choice(["auto", "local", "manual", "skip"]),
        default=None,
        help="auto: repo integration, else local history. [default: auto]",
    ),
    click.option(
        "--commit",
        "commits",
        multiple=True,
        help="manual mode: owner/repo@SHA or owner/repo@PREV..SHA (repeatable).",
    ),
    click.option(
        "--ignore-missing",
        is_flag=True,
        default=None,
        help="Previous commit missing from history: use the last --initial-depth.",
    ),
    click.option(
        "--initial-depth",
        type=int,
        default=None,
        help="Commits to send when there is no previous release. [default: 20]",
    ),
)

sourcemap_options = _stack(
    click.option("--dist", help="Distribution identifier."),
    click.option("--url-prefix", help="URL prefix for uploaded files. [default: ~]"),
    click.option("--url-suffix", help="URL suffix for uploaded files."),
    click.option("--strip-prefix", multiple=True, help="Strip this prefix from paths."),
    click.option(
        "--strip-common-prefix",
        is_flag=True,
        default=None,
        help="Strip the common prefix of all paths.",
    ),
    click.option("--ext", multiple=True, help="File extensions to upload (repeatable)."),
    click.option("--ignore", multiple=True, help="Glob to ignore (repeatable)."),
    click.option("--ignore-file", help=".gitignore-style file of globs to ignore."),
    click.option(
        "--ignore-empty", is_flag=True, default=None, help="No files found is not an error."
    ),
    click.option(
        "--strict/--no-strict",
        default=None,
        help="Validation problems are errors (default) or warnings.",
    ),
    click.option("--wait/--no-wait", default=None, help="Wait until Sentry processed the bundle."),
    click.option("--concurrency", type=int, default=None, help="Parallel chunk uploads."),
)

deploy_options = _stack(
    click.option(
        "--env",
        "-e",
        "environment",
        envvar="SENTRY_ENVIRONMENT",
        help="Deploy environment. [env: SENTRY_ENVIRONMENT]",
    ),
    click.option("--name", "-n", "deploy_name", help="Deploy name."),
    click.option("--deploy-url", "deploy_url", help="URL of the deployed site."),
    click.option("--started", help="When the deploy started (unix or ISO 8601)."),
    click.option("--finished", help="When the deploy finished (unix or ISO 8601). [default: now]"),
)

gate_options = _stack(
    click.option("--grace", help="Wait after the deploy before watching. [default: 300s]"),
    click.option("--window", help="Observation window. [default: 600s]"),
    click.option("--settle", help="Ingestion lag allowance. [default: 60s]"),
    click.option("--poll", help="Polling interval (>= 30s against sentry.io). [default: 30s]"),
    click.option("--gate-timeout", "gate_timeout", help="Give up after this long."),
    click.option("--query", "gate_query", help="Issue search query for new issues."),
    click.option("--min-events", type=int, default=None, help="Events for an issue to count. [3]"),
    click.option("--min-users", type=int, default=None, help="Users for an issue to count. [1]"),
    click.option("--max-new-issues", type=int, default=None, help="New issues allowed. [0]"),
    click.option(
        "--fail-fast/--no-fail-fast",
        default=None,
        help="Fail at once on a fatal/unhandled new issue. [on]",
    ),
    click.option("--max-ratio", help="Error-rate ratio tolerated vs baseline. [1.5]"),
    click.option("--alpha", help="Significance level of the rate test. [0.01]"),
    click.option(
        "--min-errors", type=int, default=None, help="Errors needed to fail on rate. [10]"
    ),
    click.option(
        "--min-excess", type=int, default=None, help="Errors above max-ratio x baseline. [5]"
    ),
    click.option("--health-url", multiple=True, help="URL to probe (repeatable)."),
    click.option("--health-status", help="Expected status: 2xx, 200, 200-299. [2xx]"),
    click.option("--health-body", help="Substring the body must contain."),
    click.option("--health-successes", type=int, default=None, help="Consecutive successes. [3]"),
    click.option("--health-timeout", help="Timeout of one health probe. [10s]"),
    click.option(
        "--on-inconclusive",
        type=click.Choice(["pass", "fail"]),
        default=None,
        help="Verdict when there is too little data. [pass]",
    ),
    click.option(
        "--on-api-error",
        type=click.Choice(["pass", "fail"]),
        default=None,
        help="Verdict when Sentry cannot be read. [fail]",
    ),
    click.option(
        "--gate-dry-run", is_flag=True, default=None, help="Report the verdict but always exit 0."
    ),
    click.option("--json", "json", is_flag=True, default=None, help="Print the report as JSON."),
    # --- deploy gate, second generation (issue #14)
    click.option(
        "--report-only",
        "report_only",
        help="Rules to report but not fail on: new-issues, regressed-issues, "
        "escalating-issues, rate, health, release-name (comma separated).",
    ),
    click.option("--settle-sessions", help="Ingestion lag of session aggregates. [120s]"),
    click.option("--bucket", help="Time bucket of the rate test. [60s]"),
    click.option(
        "--gate-auth-token",
        "gate_auth_token",
        envvar="SENTRY_GATE_AUTH_TOKEN",
        help="Token with event:read and org:read for the gate (else the auth token). "
        "[env: SENTRY_GATE_AUTH_TOKEN]",
    ),
)


@dataclass
class Runtime:
    """What a command needs: settings, output, and lazily a client and a repo."""

    settings: Settings
    out: Output
    _dirty_checked: bool = False

    def client(self) -> SentryClient:
        """The Sentry client for these settings."""
        from sentry_release.sentry.client import SentryClient

        return SentryClient.from_settings(self.settings, echo=self.out.result)

    def repo(self, *, required: bool = True) -> GitRepo | None:
        """The git checkout (None when not required and not a repository)."""
        from sentry_release.errors import GitError
        from sentry_release.git import GitRepo

        try:
            repo = GitRepo(self.settings.working_directory)
        except GitError:
            if required:
                raise
            return None
        if not self._dirty_checked:
            self._dirty_checked = True
            if repo.is_dirty():
                self.out.warn(
                    f"{repo.root} has uncommitted changes: the release is named for HEAD, "
                    "not for what is on disk; commit them first"
                )
        return repo

    def version(self, explicit: str | None, *, repo_required: bool = False) -> str:
        """VERSION argument or the derived release name."""
        from sentry_release.steps.release import propose_version

        if explicit:
            settings = self.settings.with_changes(release=explicit)
            return propose_version(settings, None).version
        needs_repo = repo_required or not os.environ.get("SENTRY_RELEASE", "").strip()
        repo = self.repo(required=needs_repo and self.settings.release is None)
        return propose_version(self.settings, repo).version


def runtime(values: dict[str, Any], *, need: tuple[str, ...] = ("auth_token", "org")) -> Runtime:
    """Build Settings from the command's options and check what it needs."""
    settings = from_values(values, cwd=Path.cwd(), home=_home())
    settings.require(*need)
    out = Output()
    for warning in settings.warnings:
        out.warn(warning)
    configure_logging(settings.debug)
    warn_plain_http(settings, out)
    return Runtime(settings, out)


def _home() -> Path | None:
    try:
        return Path.home()
    except RuntimeError:
        return None


def configure_logging(debug: bool) -> None:
    if not debug:
        return
    import logging

    from sentry_release.redact import redact as _redact

    class Redacting(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return _redact(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting("debug: %(name)s: %(message)s"))
    root = logging.getLogger("sentry_release")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)


def warn_plain_http(settings: Settings, out: Output) -> None:
    """The token in clear text on the network is worth a warning (not an error: some
    self-hosted installs sit behind a private network on purpose)."""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.url)
    if parts.scheme == "http" and not is_loopback(parts.hostname) and settings.auth_token:
        out.warn(
            f"the auth token will be sent over plain http to {parts.hostname}: use an "
            "https SENTRY_URL"
        )


# --- commands ---------------------------------------------------------------------------


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", "-V", prog_name="sentry-release")
def cli() -> None:
    """Release tracking for CI/CD pipelines that ship to Sentry.

    Derives the release from git, creates it, associates commits, uploads source maps,
    finalizes it, records the deploy, and gates the deploy on new errors.
    """


@cli.command("propose-version")
@click.option("--cwd", type=click.Path(file_okay=False), help="Git checkout to work in.")
@click.option("--release", envvar="SENTRY_RELEASE", hidden=True)
@version_options
def propose_version_cmd(**values: Any) -> None:
    """Print the release name this checkout would get."""
    rt = runtime(values, need=())
    rt.out.result(rt.version(None, repo_required=True))


@cli.command("new")
@click.argument("version", required=False)
@connection_options
@version_options
@click.option("--release-url", help="URL of the release (shown in Sentry).")
@click.option("--finalize", is_flag=True, default=False, help="Finalize right away.")
def new_cmd(version: str | None, finalize: bool, **values: Any) -> None:
    """Create a release (idempotent: an existing release is success)."""
    from sentry_release.steps.release import create_release, finalize_release, report_release

    rt = runtime(values, need=("auth_token", "org", "projects"))
    name = rt.version(version)
    result = create_release(rt.settings, rt.client(), name)
    report_release(rt.out, result)
    if finalize:
        finalize_release(rt.settings, rt.client(), name)
        rt.out.result(f"Finalized release {name}")


@cli.command("finalize")
@click.argument("version", required=False)
@connection_options
@version_options
@click.option("--released", help="Release time (unix or ISO 8601). [default: now]")
def finalize_cmd(version: str | None, released: str | None, **values: Any) -> None:
    """Mark a release as released."""
    from sentry_release.config.settings import parse_time
    from sentry_release.steps.release import finalize_release

    rt = runtime(values)
    name = rt.version(version)
    finalize_release(rt.settings, rt.client(), name, when=parse_time(released, name="released"))
    rt.out.result(f"Finalized release {name}")


@cli.command("deploy")
@click.argument("version", required=False)
@connection_options
@version_options
@deploy_options
@click.option(
    "--new",
    "force_new",
    is_flag=True,
    help="Record a new deploy even if this (environment, name) is already recorded.",
)
def deploy_cmd(version: str | None, force_new: bool, **values: Any) -> None:
    """Record a deploy of a release to an environment."""
    from sentry_release.steps.deploy import record_deploy

    rt = runtime(values, need=("auth_token", "org", "environment"))
    name = rt.version(version)
    result = record_deploy(rt.settings, rt.client(), name, force_new=force_new)
    verb = "Recorded" if result.created else "Deploy already recorded:"
    rt.out.result(f"{verb} deploy {result.id} of {name} to {rt.settings.deploy.environment}")


@cli.command("deploys")
@click.argument("version", required=False)
@connection_options
@version_options
def deploys_cmd(version: str | None, **values: Any) -> None:
    """List the deploys of a release."""
    rt = runtime(values)
    name = rt.version(version)
    assert rt.settings.org is not None
    deploys = rt.client().list_deploys(rt.settings.org, name)
    rt.out.table(
        ["id", "environment", "name", "finished"],
        [
            [d["id"], d["environment"], d.get("name") or "", d.get("dateFinished") or ""]
            for d in deploys
        ],
    )


@cli.command("info")
@click.argument("version", required=False)
@connection_options
@version_options
def info_cmd(version: str | None, **values: Any) -> None:
    """Show a release as Sentry has it."""
    rt = runtime(values)
    name = rt.version(version)
    assert rt.settings.org is not None
    rel = rt.client().get_release(rt.settings.org, name)
    rt.out.table(
        ["version", "created", "released", "commits", "deploys"],
        [
            [
                rel["version"],
                rel.get("dateCreated") or "",
                rel.get("dateReleased") or "(not final)",
                str(rel.get("commitCount", 0)),
                str(rel.get("deployCount", 0)),
            ]
        ],
    )


@cli.command("set-commits")
@click.argument("version", required=False)
@connection_options
@version_options
@commit_options
def set_commits_cmd(version: str | None, **values: Any) -> None:
    """Associate commits with a release (integration refs or local history)."""
    from sentry_release.steps.commits import associate_commits

    rt = runtime(values)
    name = rt.version(version)
    mode = rt.settings.commits.mode
    repo = rt.repo(required=mode in ("auto", "local"))
    associate_commits(rt.settings, rt.client(), repo, name, rt.out, environ=os.environ)


@cli.command("inject")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dry-run", is_flag=True, help="List what would change; write nothing.")
@click.option("--ext", multiple=True, help="Bundle extensions (repeatable). [js cjs mjs]")
@click.option("--ignore", multiple=True, help="Glob to ignore (repeatable).")
@click.option("--ignore-file", help=".gitignore-style file of globs to ignore.")
def inject_cmd(
    paths: tuple[str, ...],
    dry_run: bool,
    ext: tuple[str, ...],
    ignore: tuple[str, ...],
    ignore_file: str | None,
) -> None:
    """Inject debug IDs into JavaScript bundles and their source maps."""
    from sentry_release.sourcemaps.discover import JS_EXTENSIONS, load_ignore_rules
    from sentry_release.sourcemaps.inject import inject_paths

    out = Output()
    result = inject_paths(
        tuple(Path(p) for p in paths),
        dry_run=dry_run,
        out=out,
        extensions=tuple(e.lstrip(".") for e in ext) or JS_EXTENSIONS,
        ignore=load_ignore_rules(ignore, Path(ignore_file) if ignore_file else None),
        inside=Path.cwd(),
    )
    changed = sum(1 for f in result.files if f.changed)
    verb = "Would inject" if dry_run else "Injected"
    out.result(
        f"{verb} debug IDs into {changed} file(s); {len(result.files) - changed} already had one"
    )


@cli.command("upload-sourcemaps")
@click.argument("args", nargs=-1, required=True)
@click.option("--release", "-r", "release_opt", help="Release the files belong to.")
@connection_options
@version_options
@sourcemap_options
def upload_sourcemaps_cmd(args: tuple[str, ...], release_opt: str | None, **values: Any) -> None:
    """Upload source maps: [VERSION] PATH... (VERSION may also be given with --release)."""
    from sentry_release.sourcemaps.upload import upload_sourcemaps

    version, paths = release_opt, list(args)
    if version is None and len(paths) > 1 and not Path(paths[0]).exists():
        version = paths.pop(0)
    values["sourcemaps"] = paths
    rt = runtime(values, need=("auth_token", "org", "projects"))
    name = rt.version(version)
    upload_sourcemaps(rt.settings, rt.client(), name, rt.out)


@cli.command("gate")
@click.argument("version", required=False)
@connection_options
@version_options
@deploy_options
@gate_options
def gate_cmd(version: str | None, **values: Any) -> None:
    """Watch Sentry after a deploy; exit 3 when the release regressed."""
    from sentry_release.errors import GateFailed
    from sentry_release.gate.policy import FAIL
    from sentry_release.gate.watch import run_gate

    values["gate"] = True
    rt = runtime(values, need=("auth_token", "org", "environment"))
    name = rt.version(version)
    report = run_gate(rt.settings, rt.client(), name, None, rt.out)
    if report.verdict == FAIL and not rt.settings.gate.dry_run:
        raise GateFailed(f"deploy gate failed: {report.reason}")


@cli.command("run")
@click.argument("version", required=False)
@connection_options
@version_options
@click.option("--release-url", help="URL of the release (shown in Sentry).")
@click.option("--no-create", "create", flag_value=False, default=None, help="Skip `new`.")
@click.option("--no-finalize", "finalize", flag_value=False, default=None, help="Skip finalize.")
@click.option("--no-deploy", "deploy", flag_value=False, default=None, help="Skip the deploy.")
@commit_options
@click.option("--sourcemaps", multiple=True, help="Paths to inject and upload (repeatable).")
@click.option("--inject/--no-inject", default=None, help="Inject debug IDs first. [on]")
@sourcemap_options
@deploy_options
@click.option("--gate/--no-gate", default=None, help="Run the deploy gate last. [off]")
@gate_options
def run_cmd(version: str | None, **values: Any) -> None:
    """Run the whole release step: new, set-commits, source maps, finalize, deploy, gate."""
    from sentry_release.steps.pipeline import run

    values["release"] = version or values.get("release")
    rt = runtime(values, need=("auth_token", "org", "projects"))
    repo = rt.repo(
        required=rt.settings.commits.mode in ("auto", "local") or rt.settings.release is None
    )
    run(rt.settings, rt.client(), repo, rt.out, environ=os.environ)


@cli.command("dev-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="Port (0: any free port). [default: 0]")
@click.option("--org", "orgs", multiple=True, help="Organization slug (repeatable). [acme]")
@click.option("--project", "projects", multiple=True, help="Project slug (repeatable). [web]")
@click.option("--token", "tokens", multiple=True, help="Accepted auth token (repeatable).")
@click.option("--repo", "repos", multiple=True, help="Repository: owner/name=url (repeatable).")
@click.option("--state", type=click.Path(dir_okay=False), help="JSON file that keeps state.")
@click.option("--faults", help="Fault injection spec (see docs/reliability.md).")
@click.option("--verbose", is_flag=True, help="Log every request.")
def dev_server_cmd(
    host: str,
    port: int,
    orgs: tuple[str, ...],
    projects: tuple[str, ...],
    tokens: tuple[str, ...],
    repos: tuple[str, ...],
    state: str | None,
    faults: str | None,
    verbose: bool,
) -> None:
    """Run the local Sentry stand-in until interrupted."""
    from sentry_release.devserver.main import serve

    serve(
        host=host,
        port=port,
        orgs=orgs,
        projects=projects,
        tokens=tokens,
        repos=repos,
        state=Path(state) if state else None,
        faults=faults,
        verbose=verbose,
    )


@cli.command("demo")
@click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False),
    help="Use this git checkout instead of a throwaway one.",
)
@click.option("--keep", is_flag=True, help="Keep the throwaway repository.")
def demo_cmd(repo_path: str | None, keep: bool) -> None:
    """Try the whole pipeline against an in-process Sentry stand-in."""
    from sentry_release.demo import demo

    demo(Output(), repo_path=Path(repo_path) if repo_path else None, keep=keep)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turn errors into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or os.environ.get(
        "SENTRY_RELEASE_DEBUG", ""
    ).lower() in ("1", "true")
    code = run_cli(argv, debug=debug)
    sys.exit(code)


def run_cli(argv: list[str] | None, *, debug: bool = False, out: Output | None = None) -> int:
    """Run the click group and map the outcome to an exit code (testable without exiting)."""
    out = out or Output()
    try:
        cli.main(args=argv, prog_name="sentry-release", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        out.error("aborted")
        return 130
    except click.UsageError as exc:
        # One line, like every other bad input; --help has the rest.
        hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        out.error(f"{exc.format_message()}{hint}", title="Invalid usage")
        return 2
    except click.ClickException as exc:
        out.error(exc.format_message())
        return exc.exit_code
    except SentryReleaseError as exc:
        if debug:
            sys.stderr.write(redact(traceback.format_exc()))
        out.error(" ".join(str(exc).splitlines()), title=exc.title)
        return exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
    except Exception as exc:  # a bug: say so in one line, traceback with --debug
        if debug:
            sys.stderr.write(redact(traceback.format_exc()))
        out.error(
            f"internal error: {exc.__class__.__name__}: {redact(str(exc))} "
            "(run with --debug for details)"
        )
        return 1
    return 0


__all__ = ["ConfigError", "cli", "main", "run_cli"]
