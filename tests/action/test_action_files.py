"""action.yml, README, Dockerfile and workflows agree with the code and with GitHub's schemas."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import certifi
import pytest
import yaml

from sentry_release import action, report
from sentry_release.config.build import from_values
from sentry_release.config.settings import Settings

ROOT = Path(__file__).parents[2]
SPEC = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")

# A valid value for every input that differs from its default.
SAMPLES = {
    "url": "https://sentry.example.com/",
    "org": "other-org",
    "auth_token": "another-token-value",
    "projects": "api",
    "ca_bundle": certifi.where(),  # a real bundle: a missing or empty one is refused up front
    "release": "9.9.9",
    "release_prefix": "web@",
    "tag_pattern": "web@*",
    "release_from": "describe",
    "check": "true",
    "release_url": "https://example.com/r",
    "finalize": "false",
    "set_commits": "local",
    "ignore_missing": "true",
    "ignore_empty": "true",
    "sourcemaps_ignore_empty": "true",
    "gate_settle": "5s",
    "gate_settle_sessions": "5s",
    "sourcemaps": "dist build",
    "inject": "false",
    "dist": "42",
    "url_prefix": "~/static",
    "url_suffix": "?v=1",
    "strip_prefix": "/build",
    "strip_common_prefix": "true",
    "ignore": "*.test.js",
    "environment": "staging",
    "deploy_name": "blue",
    "deploy_url": "https://example.com",
    "started_at": "1700000000",
    "gate": "true",
    "gate_grace": "10s",
    "gate_window": "20s",
    "gate_timeout": "1h",
    "gate_query": "is:unresolved",
    "max_new_issues": "4",
    "gate_report_only": "rate",
    "gate_auth_token": "gate-token-value",
    "min_events": "9",
    "min_users": "3",
    "max_error_ratio": "3",
    "health_url": "https://example.com/health",
    "health_status": "200",
    "on_inconclusive": "fail",
    "on_api_error": "pass",
    "gate_dry_run": "true",
    "dry_run": "true",
    "debug": "true",
    "trust_sentryclirc_url": "true",
    "allow_failure": "true",
    "custom_header": "X-Proxy-Auth: let-me-in",
}


def settings_for(tmp_path: Path, inputs: dict[str, str]) -> tuple[Settings, action.ActionConfig]:
    env = {
        "GITHUB_WORKSPACE": str(tmp_path),
        "SENTRY_ORG": "acme",
        "SENTRY_PROJECT": "web",
        "SENTRY_AUTH_TOKEN": "a-token-value",
        "GITHUB_REPOSITORY": "acme/web",
        "SENTRY_ENVIRONMENT": "production",
    }  # the gate refuses to run without one
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    config = action.action_config(env)
    return from_values(config.values, cwd=tmp_path, home=None), config


def test_action_yml_declares_exactly_the_inputs_the_code_reads() -> None:
    declared = set(SPEC["inputs"])
    assert declared == set(action.KNOWN_INPUTS)
    assert set(SPEC["outputs"]) == set(report.OUTPUT_NAMES)
    for old in action.DEPRECATED:
        assert "deprecationMessage" in SPEC["inputs"][old]


@pytest.mark.parametrize("name", sorted(action.INPUTS))
def test_every_settings_input_changes_the_settings(tmp_path: Path, name: str) -> None:
    """Used, not just declared: a non-default value gives different Settings."""
    base, _ = settings_for(tmp_path, {})
    changed, _ = settings_for(tmp_path, {name: SAMPLES[name]})
    assert changed != base, f"input {name} has no effect"


def test_local_inputs_are_used(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    base, config = settings_for(tmp_path, {})
    assert config.safe_directory
    manual, _ = settings_for(
        tmp_path, {"repo": "acme/lib", "commit": "b" * 40, "previous_commit": "a" * 40}
    )
    assert manual.commits.specs == (f"acme/lib@{'a' * 40}..{'b' * 40}",)
    moved, _ = settings_for(tmp_path, {"working_directory": "app"})
    assert moved.working_directory == (tmp_path / "app").resolve() != base.working_directory
    _, off = settings_for(tmp_path, {"disable_safe_directory": "true"})
    assert not off.safe_directory
    for strict in ("disable_telemetry", "disable_safe_directory"):
        with pytest.raises(action.ConfigError):
            settings_for(tmp_path, {strict: "sometimes"})
    old, _ = settings_for(tmp_path, {"version": "1.0", "version_prefix": "web@"})
    assert (old.release, old.release_prefix) == ("1.0", "web@")


def readme_table_names(heading: str) -> set[str]:
    """First-column `names` of the table under a README heading."""
    section = README.split(heading, 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))


def test_readme_documents_every_input_and_output() -> None:
    assert readme_table_names("### Inputs") == set(SPEC["inputs"])
    assert readme_table_names("### Outputs") == set(SPEC["outputs"])


def test_readme_examples_use_only_declared_inputs() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    checked = 0
    for block in blocks:
        for step in _steps(yaml.safe_load(block)):
            uses = str(step.get("uses", ""))
            if "sentry-release" in uses:
                unknown = set(step.get("with", {})) - set(SPEC["inputs"])
                assert not unknown, f"README example uses unknown inputs {unknown}"
                checked += 1
    assert checked >= 5


def _steps(doc: object) -> list[dict[str, object]]:
    if isinstance(doc, list):
        return [s for s in doc if isinstance(s, dict)]
    if isinstance(doc, dict):
        if "steps" in doc and isinstance(doc["steps"], list):
            return _steps(doc["steps"])
        found: list[dict[str, object]] = []
        for value in doc.values():
            found += _steps(value)
        if "uses" in doc:
            found.append(doc)
        return found
    return []


def test_requirements_pin_exactly_the_runtime_dependencies() -> None:
    """The image's pins: every runtime dependency and theirs, exact, inside pyproject's ranges."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins: dict[str, str] = {}
    text = (ROOT / "requirements-action.txt").read_text(encoding="utf-8")
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pin, *options = line.split()
            name, sep, version = pin.partition("==")
            assert sep and version, f"not an exact pin: {line}"
            assert len(options) == 1 and re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", options[0])
            pins[canonicalize_name(name)] = version
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} outside {spec}"
    for name in pins:  # closed under dependencies (as installed here)
        for spec in requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonicalize_name(req.name) in pins, f"{name} needs {req.name}, unpinned"


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


@pytest.mark.slow  # check-jsonschema as a real process
def test_action_yml_validates_against_githubs_schema() -> None:
    done = subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-actions",
            "action.yml",
            "from-source/action.yml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow  # check-jsonschema as a real process
def test_workflows_validate_against_githubs_schema() -> None:
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert {Path(w).name for w in workflows} >= {"ci.yml", "self-test.yml", "release.yml"}
    done = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_lints_clean_with_hadolint() -> None:
    done = subprocess.run(
        [tool("hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_runs_the_entrypoint_with_pinned_dependencies() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.1[12]-slim$", text, flags=re.M)
    assert 'ENTRYPOINT ["python", "/app/entrypoint.py"]' in text
    assert "--no-deps --require-hashes --only-binary :all:" in text
    assert "-r /build/requirements-action.txt" in text and "--no-deps /build" in text
    assert "COPY --from=builder /install /\n" in text
    assert "PYTHONUNBUFFERED=1" in text and "rm -rf /var/lib/apt/lists/*" in text
    entry = (ROOT / "entrypoint.py").read_text(encoding="utf-8")
    assert "sys.exit(sentry_release.action.main())" in entry
