"""The terminal front door: one thin click command per verb. Each parses, builds Settings,
calls one step and hands the result to `report`; `run_cli` turns errors into one line and an
exit code through `runtime.report_failure`. Options come from `config/options.py`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from sentry_release import __version__, report
from sentry_release.config.build import from_values
from sentry_release.config.options import COMMON, SECTIONS, Option, select
from sentry_release.errors import Cancelled
from sentry_release.output import Output
from sentry_release.runtime import (
    REAL_TIME,
    Clock,
    Failure,
    Runtime,
    cancellable,
    debug_requested,
    parse_flag,
    report_failure,
)

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
CONNECTION = (
    *COMMON,
    "release_prefix",
    "tag_pattern",
    "release_from",
)  # what every Sentry command takes
DEPLOY = ("environment", "deploy_name", "deploy_url", "started", "finished")
MAPS = tuple(o.key for o in select(["Source maps"]) if o.key not in ("sourcemaps", "inject"))
GATE = tuple(o.key for o in select(["Deploy gate"]) if o.key != "gate")


# --- options from the one table -----------------------------------------------------------


class TableOption(click.Option):
    """A click option made from a row of `config/options.py`; knows its help section."""

    def __init__(self, *args: Any, section: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


def option_args(option: Option) -> tuple[list[str], dict[str, Any]]:
    """The declarations and keyword arguments of the click option for one table row."""
    decls: list[str] = [*option.flags, option.key]
    kwargs: dict[str, Any] = {
        "help": option.cli_help(),
        "hidden": option.hidden,
        "section": option.section,
    }
    if option.env:
        kwargs["envvar"] = option.env
    if option.switch == "flag":
        kwargs.update(is_flag=True, default=None)
    elif option.switch == "pair":
        long = option.flags[0]
        decls = [f"{long}/--no-{long[2:]}", *option.flags[1:], option.key]
        kwargs["default"] = None
    elif option.switch == "off":
        kwargs.update(flag_value=False, default=None)
    elif option.kind == "list":
        kwargs["multiple"] = True
    elif option.kind == "int":
        kwargs.update(type=int, default=None)
    elif option.kind == "choice":
        kwargs["type"] = click.Choice(option.choices)
    return decls, kwargs


def table_rows(names: tuple[str, ...]) -> list[tuple[list[str], dict[str, Any]]]:
    """`option_args` of these option keys or sections, in the table's order."""
    unique = {option.key: option for option in select(names)}  # sections may overlap
    return [option_args(option) for option in unique.values()]


def table_options(names: tuple[str, ...]) -> list[click.Parameter]:
    """The click options for these option keys or sections, in the table's order."""
    return [TableOption(decls, **kwargs) for decls, kwargs in table_rows(names)]


def options(*names: str) -> Callable[[F], F]:
    """Decorate a click callback with the table's options `names` (keys or sections)."""
    decorators = [click.option(*d, cls=TableOption, **kw) for d, kw in table_rows(names)]

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


class SectionedCommand(click.Command):
    """A subcommand whose table options are built when it is used, not at import (a
    command's `--help` or run builds its own ~20 options, not the ~350 of every command),
    and whose `--help` shows them under the table's section headings."""

    _pending: tuple[str, ...] = ()
    _params: list[click.Parameter]

    def __init__(self, *args: Any, table: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = table

    @property
    def params(self) -> list[click.Parameter]:
        """The table's options (built on first use), then the command's own."""
        if self._pending:
            names, self._pending = self._pending, ()
            self._params[:0] = table_options(names)
        return self._params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._params = value

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is None:
                continue
            section = param.section if isinstance(param, TableOption) else "Options"
            sections.setdefault(section, []).append(record)
        for section in ("Options", *SECTIONS):
            if section in sections:
                with formatter.section(section):
                    formatter.write_dl(sections[section])


def command(name: str, *names: str) -> Callable[[Callable[..., Any]], click.Command]:
    """A subcommand taking the table's options `names` (keys or sections)."""

    def wrap(func: Callable[..., Any]) -> click.Command:
        return cli.command(name, cls=SectionedCommand, table=names)(func)

    return wrap


# --- building a run -----------------------------------------------------------------------


def merged_values(values: dict[str, Any]) -> dict[str, Any]:
    """A command's values with the common options given before the command name
    (`sentry-release --debug new`): a flag on the command wins, then one on the group."""
    ctx = click.get_current_context()
    parent = ctx.find_root()
    merged = dict(values)
    for key in COMMON:
        if key not in parent.params:
            continue
        here = ctx.get_parameter_source(key) if key in values else None
        there = parent.get_parameter_source(key)
        if here is not click.core.ParameterSource.COMMANDLINE and (
            there is click.core.ParameterSource.COMMANDLINE or key not in values
        ):
            merged[key] = parent.params[key]
    return merged


@dataclass
class Call:
    """One invocation: the environment the front door read, its output, its clock, and the `--json`
    answer (printed once by `run_cli`, with the error added when the command failed)."""

    environ: Mapping[str, str]
    out: Output
    answer: dict[str, object] = field(default_factory=dict)
    clock: Clock = REAL_TIME  # where waits go: real time, or a test's simulated clock


def call() -> Call:
    """The current invocation (`run_cli` makes one; a bare `cli.main` gets a fresh one)."""
    root = click.get_current_context().find_root()
    if not isinstance(root.obj, Call):
        root.obj = Call(os.environ, Output())
    return root.obj


def environ() -> Mapping[str, str]:
    """The environment the front door read (`run_cli`'s), passed down, never read below."""
    return call().environ


def answer(data: dict[str, object]) -> None:
    """The command's `--json` object (what it did so far: a failure later keeps it)."""
    call().answer = data


def runtime(values: dict[str, Any], *, need: tuple[str, ...] = ("auth_token", "org")) -> Runtime:
    """Build Settings from the command's options and check what it needs."""
    values = merged_values(values)
    if values.get("debug") is None and debug_requested(environ()):
        values["debug"] = True  # SENTRY_LOG_LEVEL=debug, as sentry-cli takes it
    settings = from_values(values, cwd=Path.cwd(), home=_home())
    out = call().out
    out.json_mode = settings.json_output
    settings.require(*need)
    return Runtime.start(settings, out, environ(), call().clock)


def _home() -> Path | None:
    try:
        return Path.home()
    except RuntimeError:
        return None


# --- commands ---------------------------------------------------------------------------


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", "-V", prog_name="sentry-release")
@options(*COMMON)
def cli(**values: Any) -> None:
    """Release tracking for CI/CD pipelines that ship to Sentry.

    Derives the release from git, creates it, associates commits, uploads source maps,
    finalizes it, records the deploy, and gates the deploy on new errors. The connection
    options, --dry-run, --debug and --json go before or after the command's name.
    """


@command(
    "propose-version",
    "cwd",
    "debug",
    "json",
    "release_prefix",
    "tag_pattern",
    "release_from",
    "env_names",
    "export",
    "format",
)
def propose_version_cmd(**values: Any) -> None:
    """Print the release name this checkout would get; sends nothing to Sentry.

    Before a build: `--export github` sets SENTRY_RELEASE (and each --env-name) for the
    job's later steps, `--format env` prints them as NAME=value lines."""
    from sentry_release.exports import env_lines, export_names, release_env

    names = export_names(values.get("env_names") or ())
    rt = runtime(values, need=())
    proposed = rt.propose(repo_required=True)
    exported = release_env(proposed.version, names)
    if values.get("export") == "github":
        write_github_files(rt.environ, exported, {"release": proposed.version})
    if rt.out.json_mode:
        answer({"release": proposed.version, "source": proposed.source})
    elif values.get("format") == "env":
        rt.out.result(env_lines(exported).rstrip("\n"))
    else:
        rt.out.result(proposed.version)


def write_github_files(
    env: Mapping[str, str],
    exported: Mapping[str, str],
    outputs: Mapping[str, str],
) -> None:
    """`--export github`: the variables to GITHUB_ENV, the outputs to GITHUB_OUTPUT (when the
    step has an id); outside a GitHub step there is nowhere to export to."""
    from sentry_release.errors import ConfigError
    from sentry_release.exports import file_commands

    if not env.get("GITHUB_ENV"):
        raise ConfigError(
            "--export github needs GITHUB_ENV, which only a GitHub Actions step has: "
            "use --format env elsewhere"
        )
    for variable, values in (("GITHUB_ENV", exported), ("GITHUB_OUTPUT", outputs)):
        if env.get(variable):
            with open(env[variable], "a", encoding="utf-8") as handle:
                handle.write(file_commands(values))


@command("new", *CONNECTION, "release_url")
@click.argument("version", required=False)
@click.option("--finalize", "finalize_now", is_flag=True, help="Finalize right away.")
def new_cmd(version: str | None, finalize_now: bool, **values: Any) -> None:
    """Create a release (idempotent: an existing release is success)."""
    from sentry_release.steps.release import create_release, finalize_release

    rt = runtime(values, need=("auth_token", "org", "projects"))
    name = rt.version(version)
    result = create_release(rt.settings, rt.client(), name)
    rt.out.result(report.release_line(result))
    if finalize_now:
        finalize_release(rt.settings, rt.client(), name)
        rt.out.result(report.finalized_line(name, dry_run=rt.settings.dry_run))
    if rt.out.json_mode:
        answer({**report.json_object(result), "finalized": finalize_now})


@command("finalize", *CONNECTION)
@click.argument("version", required=False)
@click.option("--released", help="Release time (unix or ISO 8601). [default: now]")
def finalize_cmd(version: str | None, released: str | None, **values: Any) -> None:
    """Mark a release as released."""
    from sentry_release.config.parse import parse_time
    from sentry_release.steps.release import finalize_release

    rt = runtime(values)
    name = rt.version(version)
    when = parse_time(released, name="released")
    body = finalize_release(rt.settings, rt.client(), name, when=when)
    rt.out.result(report.finalized_line(name, dry_run=rt.settings.dry_run))
    if rt.out.json_mode:
        answer({"version": name, "finalized": True, "release": report.jsonable(body)})


@command("deploy", *CONNECTION, *DEPLOY)
@click.argument("version", required=False)
def deploy_cmd(version: str | None, **values: Any) -> None:
    """Record a deploy of a release to an environment."""
    from sentry_release.steps.deploy import record_deploy

    rt = runtime(values, need=("auth_token", "org", "environment"))
    name = rt.version(version)
    result = record_deploy(rt.settings, rt.client(), name)
    rt.out.result(
        report.deploy_line(
            result, name, rt.settings.deploy.environment, dry_run=rt.settings.dry_run
        )
    )
    if rt.out.json_mode:
        answer({"version": name, "id": result.id, **report.json_object(result)})


@command("deploys", *CONNECTION)
@click.argument("version", required=False)
def deploys_cmd(version: str | None, **values: Any) -> None:
    """List the deploys of a release."""
    rt = runtime(values)
    name = rt.version(version)
    assert rt.settings.org is not None
    deploys = rt.client().list_deploys(rt.settings.org, name)
    answer({"version": name, "deploys": report.jsonable(deploys)})
    if not rt.out.json_mode:
        rt.out.table(*report.deploys_table(deploys))


@command("info", *CONNECTION)
@click.argument("version", required=False)
def info_cmd(version: str | None, **values: Any) -> None:
    """Show a release as Sentry has it."""
    rt = runtime(values)
    name = rt.version(version)
    assert rt.settings.org is not None
    rel = rt.client().get_release(rt.settings.org, name)
    answer(report.json_object(rel))
    if not rt.out.json_mode:
        rt.out.table(*report.release_table(rel))


@command(
    "set-commits",
    *CONNECTION,
    "commit_mode",
    "commits",
    "ignore_missing",
    "commits_ignore_empty",
    "initial_depth",
)
@click.argument("version", required=False)
def set_commits_cmd(version: str | None, **values: Any) -> None:
    """Associate commits with a release (integration refs or local history)."""
    from sentry_release.steps.commits import associate_commits

    rt = runtime(values)
    name = rt.version(version)
    repo = rt.repo(required=rt.settings.commits.mode in ("auto", "local"))
    result = associate_commits(rt.settings, rt.client(), repo, name, rt.out, environ=rt.environ)
    if rt.out.json_mode:
        answer({"version": name, "count": result.count, **report.json_object(result)})


@command("inject", "debug", "json", "ext", "ignore", "ignore_file")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dry-run", is_flag=True, help="List what would change; write nothing.")
def inject_cmd(paths: tuple[str, ...], dry_run: bool, **values: Any) -> None:
    """Inject debug IDs into JavaScript bundles and their source maps."""
    from sentry_release.sourcemaps.discover import JS_EXTENSIONS, load_ignore_rules
    from sentry_release.sourcemaps.inject import inject_paths

    rt = runtime(values, need=())
    maps = rt.settings.sourcemaps
    given_ext = bool(values.get("ext"))
    dry_run = dry_run or rt.settings.dry_run
    result = inject_paths(
        tuple(Path(p) for p in paths),
        dry_run=dry_run,
        out=rt.out,
        extensions=maps.extensions if given_ext else JS_EXTENSIONS,
        ignore=load_ignore_rules(maps.ignore, maps.ignore_file),
        inside=Path.cwd(),
    )
    rt.out.result(report.inject_line(result, dry_run=dry_run))
    if rt.out.json_mode:
        answer(report.json_object(result))


@command("upload-sourcemaps", *CONNECTION, *MAPS)
@click.argument("args", nargs=-1, required=True)
@click.option("--release", "-r", "release_opt", help="Release the files belong to.")
def upload_sourcemaps_cmd(args: tuple[str, ...], release_opt: str | None, **values: Any) -> None:
    """Upload source maps: [VERSION] PATH... (VERSION may also be given with --release)."""
    from sentry_release.sourcemaps.upload import upload_sourcemaps

    version, paths = release_opt, list(args)
    if version is None and len(paths) > 1 and not Path(paths[0]).exists():
        version = paths.pop(0)
    values["sourcemaps"] = paths
    values["inject"] = None
    rt = runtime(values, need=("auth_token", "org", "projects"))
    name = rt.version(version)
    result = upload_sourcemaps(rt.settings, rt.client(), name, rt.out)
    if rt.out.json_mode:
        answer({"version": name, **report.json_object(result)})


@command("gate", *CONNECTION, *DEPLOY, *GATE)
@click.argument("version", required=False)
def gate_cmd(version: str | None, **values: Any) -> None:
    """Watch Sentry after a deploy; exit 3 when the release regressed."""
    from sentry_release.steps.pipeline import enforce_gate, gate_step

    values["gate"] = True
    rt = runtime(values, need=("auth_token", "org", "environment"))
    name = rt.version(version)
    result = gate_step(rt.settings, rt.client(), name, None, rt.out, rt.environ)
    if rt.out.json_mode:
        from sentry_release.gate.render import report_dict

        answer(report_dict(result))
    enforce_gate(rt.settings, result)


def release_argument(version: str | None, given: str | None) -> str | None:
    """VERSION when given (an explicitly empty one is refused, never read as "derive it"),
    else the `--release` value."""
    if version is not None and not version.strip():
        from sentry_release.errors import ConfigError

        raise ConfigError("release name is empty: pass a version or set SENTRY_RELEASE")
    return version if version is not None else given


@command("check", *CONNECTION, *SECTIONS[1:])
@click.argument("version", required=False)
def check_cmd(version: str | None, **values: Any) -> None:
    """Check, before anything is written, that this configuration can run: the URL answers,
    the token is accepted, the org and projects exist, the token holds every needed scope."""
    from sentry_release.steps.check import enforce_check

    values["release"] = release_argument(version, values.get("release"))
    rt = runtime(values, need=("auth_token", "org"))
    enforce_check(rt.settings, rt.client(), rt.out, answer)


@command("run", *CONNECTION, *SECTIONS[1:])
@click.argument("version", required=False)
def run_cmd(version: str | None, **values: Any) -> None:
    """Run the whole release step: new, set-commits, source maps, finalize, deploy, gate."""
    from sentry_release.steps.pipeline import PipelineResult, run

    values["release"] = release_argument(version, values.get("release"))
    rt = runtime(values, need=("auth_token", "org", "projects"))
    repo = rt.repo(required=rt.needs_repo())

    def on_step(partial: PipelineResult) -> None:
        answer(report.pipeline_json(partial))  # what was done, should a later step fail
        rt.narrate(partial)

    result = run(rt.settings, rt.client(), repo, rt.out, environ=rt.environ, on_step=on_step)
    answer(report.pipeline_json(result))


@cli.command("dev-server", cls=SectionedCommand)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="Port (0: any free port). [default: 0]")
@click.option("--org", "orgs", multiple=True, help="Organization slug (repeatable). [acme]")
@click.option("--project", "projects", multiple=True, help="Project slug (repeatable). [web]")
@click.option("--token", "tokens", multiple=True, help="Accepted auth token (repeatable).")
@click.option("--repo", "repos", multiple=True, help="Repository: owner/name=url (repeatable).")
@click.option("--state", type=click.Path(dir_okay=False), help="JSON file that keeps state.")
@click.option("--faults", help="Fault injection spec (see docs/reliability.md).")
@click.option("--verbose", is_flag=True, help="Log every request.")
@options("debug")
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
    debug: bool | None,
) -> None:
    """Run the local Sentry stand-in until interrupted."""
    from sentry_standin.main import serve

    serve(
        host=host,
        port=port,
        orgs=orgs,
        projects=projects,
        tokens=tokens,
        repos=repos,
        state=Path(state) if state else None,
        faults=faults,
        verbose=verbose or bool(debug),
    )


@command("demo", "debug", "json")
@click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False),
    help="Use this git checkout instead of a throwaway one.",
)
@click.option("--keep", is_flag=True, help="Keep the throwaway repository.")
def demo_cmd(repo_path: str | None, keep: bool, **values: Any) -> None:
    """Try the whole pipeline against an in-process Sentry stand-in."""
    from sentry_release.demo import demo

    rt = runtime(values, need=())
    result = demo(rt.out, repo_path=Path(repo_path) if repo_path else None, keep=keep)
    if rt.out.json_mode:
        answer(report.demo_json(result.runs))
    if result.failure is not None:
        raise result.failure


# --- the one place errors become output ---------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI with this process's environment; exit with its code."""
    sys.exit(run_cli(argv, environ=os.environ))


def run_cli(
    argv: list[str] | None,
    *,
    environ: Mapping[str, str] | None = None,
    out: Output | None = None,
    clock: Clock = REAL_TIME,
) -> int:
    """Run the click group and map the outcome to an exit code (testable without exiting;
    a test passes its own environment, streams and clock)."""
    environ = os.environ if environ is None else environ
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or debug_requested(environ)
    allow = "--allow-failure" in args or parse_flag(environ.get("SENTRY_ALLOW_FAILURE"))
    out = out or Output()
    invocation = Call(environ, out, clock=clock)
    with cancellable():  # also around the report: a second signal does not cut it short
        try:
            cli.main(args=args, prog_name="sentry-release", standalone_mode=False, obj=invocation)
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except click.Abort:
            out.error("aborted")
            failure = Failure(130, "Interrupted", "aborted", "interrupted")
        except click.UsageError as exc:
            # One line, like every other bad input; --help has the rest.
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            message = f"{exc.format_message()}{hint}"
            out.error(message, title="Invalid usage")
            failure = Failure(2, "Invalid usage", message, "bad_input")
        except click.ClickException as exc:
            out.error(exc.format_message())
            failure = Failure(exc.exit_code, "Invalid usage", exc.format_message(), "bad_input")
        except (Exception, KeyboardInterrupt, Cancelled) as exc:
            failure = report_failure(exc, out, debug=debug, allow_failure=allow)
        else:
            if out.json_mode:
                out.json(invocation.answer)
            return 0
        if out.json_mode or "--json" in args:  # also when the failure came before the options
            out.json(failure.json(invocation.answer))
        return failure.code


__all__ = ["cli", "main", "run_cli"]
