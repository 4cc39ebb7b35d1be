"""The stand-in's one error: bad configuration (a flag, a fault spec, a token spec)."""

from __future__ import annotations

import click


class StandinConfigError(click.ClickException):
    """Bad stand-in configuration; click prints it as one line and exits 2."""

    exit_code = 2
