"""The option table is the one declaration: action.yml, the README table, the click options
and `from_values` all agree with it."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml

from sentry_release.cli import TableOption, cli
from sentry_release.config.build import from_values
from sentry_release.config.options import BY_INPUT, OPTIONS, SECTIONS, inputs_table

ROOT = Path(__file__).parents[3]
SPEC = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_each_option_is_declared_once() -> None:
    keys = [o.key for o in OPTIONS]
    inputs = [o.input for o in OPTIONS if o.input]
    flags = [f for o in OPTIONS for f in o.flags]
    assert len(keys) == len(set(keys))
    assert len(inputs) == len(set(inputs))
    assert len(flags) == len(set(flags))
    assert {o.section for o in OPTIONS} <= set(SECTIONS)


def test_every_action_yml_input_is_an_option_and_back() -> None:
    assert set(SPEC["inputs"]) == set(BY_INPUT)


@pytest.mark.parametrize("name", sorted(BY_INPUT))
def test_action_yml_input_matches_its_option(name: str) -> None:
    option, declared = BY_INPUT[name], SPEC["inputs"][name]
    assert declared["description"] == option.action_description
    assert declared.get("default") == option.action_default
    assert ("deprecationMessage" in declared) == (option.replaced_by is not None)
    assert declared.get("required", False) is False


def test_readme_input_table_is_generated_from_the_options() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert inputs_table() in readme, "run: python -m sentry_release.config.options"


def all_commands() -> list[click.Command]:
    assert isinstance(cli, click.Group)
    return [cli, *cli.commands.values()]


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.flags], ids=lambda o: o.key)
def test_every_flag_is_a_cli_option_with_its_env_var(option: object) -> None:
    from sentry_release.config.options import Option

    assert isinstance(option, Option)
    found = [
        p
        for command in all_commands()
        for p in command.params
        if isinstance(p, TableOption) and p.name == option.key
    ]
    assert found, f"{option.key} is not on any command"
    for param in found:
        assert option.flags[0] in param.opts
        assert param.envvar == option.env


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.field], ids=lambda o: o.key)
def test_every_settings_option_parses_its_default_to_the_default(
    option: object, tmp_path: Path
) -> None:
    """An unset value and the default shown in --help/action.yml give the same Settings."""
    from sentry_release.config.options import Option

    assert isinstance(option, Option)
    assert from_values({option.key: None}, cwd=tmp_path) == from_values({}, cwd=tmp_path)
    if option.action_default is not None:
        given = from_values({option.key: option.action_default}, cwd=tmp_path)
        assert given == from_values({}, cwd=tmp_path)
