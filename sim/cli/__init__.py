"""The `residency` command line: the only place that prints or exits."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from sim import __version__
from sim.cli import core, experiments, explore, teach  # noqa: F401 - importing registers the commands
from sim.cli.common import EXIT_INPUT, app, err, out
from sim.errors import InputError

__all__ = ["app", "main"]


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Simulate residual cross-border access under data-hosting arrangements."""
    if version:
        out.print(f"residency {__version__}")
        raise typer.Exit(0)


def main() -> None:
    """Run the command line; typer itself turns bad flags into a usage error and exit 2."""
    try:
        app()
    except InputError as error:  # pragma: no cover - commands catch their own
        err.print(f"[bold red]error:[/] {escape(error.paragraph())}")
        sys.exit(EXIT_INPUT)
