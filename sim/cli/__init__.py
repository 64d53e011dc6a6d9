"""The `residency` command line: the only place that prints or exits."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from sim import __version__
from sim.cli import core, experiments, teach  # noqa: F401 - importing registers the commands
from sim.cli.common import EXIT_INPUT, app, err, install_signal_handlers, interrupted_status, out, received
from sim.errors import InputError
from sim.results.atomic import os_error

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
    install_signal_handlers()
    try:
        app()
    except SystemExit as stop:
        if received and stop.code == 1:  # click's own "Aborted!" after a SIGTERM outside a command's handler
            sys.exit(interrupted_status())
        raise
    except InputError as error:  # pragma: no cover - commands catch their own
        err.print(f"[bold red]error:[/] {escape(error.paragraph())}")
        sys.exit(EXIT_INPUT)
    except OSError as exc:  # a safety net: every OS failure is an input error, never a traceback
        where = exc.filename or "a file or folder"
        err.print(f"[bold red]error:[/] {escape(os_error(where, exc, 'read or write').paragraph())}")
        sys.exit(EXIT_INPUT)
