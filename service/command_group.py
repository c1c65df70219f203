"""The typer group both command lines use: its own `--help` stays cheap to parse.

Typer coerces each parsed parameter through a pydantic adapter that it builds on
first use, and a group's `--help` flag, when absent, parses as None rather than a
bool, which typer does not short-circuit: `backchannel status --help` would import
pydantic and build a schema (about half a second here) before printing anything.
With False as the flag's default the value is a bool, which typer passes through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click import Context  # what TyperGroup's own signatures name


class CommandGroup(TyperGroup):
    """A `TyperGroup` whose `--help` flag defaults to False instead of None."""

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option
