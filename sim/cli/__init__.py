"""The `residency` command line: the only place that prints or exits."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from sim import __version__
from sim.cli import core, experiments, project, teach  # noqa: F401 - importing registers the commands
from sim.cli.common import EXIT_INPUT, app, out, print_input_error
from sim.errors import InputError

__all__ = ["app", "main"]


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", "-V", help="Print the version and exit.")] = False,
) -> None:
    """Simulate residual cross-border access under data-hosting arrangements."""
    if version:
        out.print(f"residency {__version__}")
        raise typer.Exit(0)


def main(args: Sequence[str] | None = None) -> None:
    """Run the command line, turning any input error into one paragraph and exit code 2.

    Commands raise `InputError` for bad input and leave it to this one handler; typer itself
    turns bad flags into a usage error and exit 2. Anything else is a bug and keeps its traceback.
    """
    try:
        app(args=None if args is None else list(args), prog_name="residency")
    except InputError as error:
        print_input_error(error)
        sys.exit(EXIT_INPUT)
