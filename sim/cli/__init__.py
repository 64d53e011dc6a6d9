"""The `residency` command line: the only place that prints or exits."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from sim.cli import core, describe, design, experiments, explore, project, teach  # noqa: F401 - importing registers the commands
from sim.cli.common import (
    EXIT_INPUT,
    app,
    err,
    install_signal_handlers,
    interrupted_status,
    out,
    print_input_error,
    received,
    told,
)
from sim.errors import InputError
from sim.results.atomic import held_locks, os_error, release_all
from sim.version import __version__

__all__ = ["app", "main"]


def _click_class(name: str) -> type[Exception]:
    """Return click's exception class of that name, from typer's own copy of click or from click."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


INTERRUPTED_BY_TYPER = 130  # typer turns a KeyboardInterrupt that reaches it into Exit(130), silently
USAGE_ERROR = _click_class("UsageError")  # a malformed command line: no such flag, a bad value, a missing argument
CLICK_ERROR = _click_class("ClickException")


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
    turns bad flags into a usage error and exit 2. SIGTERM and SIGHUP stop a command as Ctrl-C
    does. Any other exception is a bug and keeps its traceback, except OS errors (a full disk,
    a folder that cannot be written), which are the user's to fix.
    """
    install_signal_handlers()
    told.clear()
    before = held_locks()  # an in-process caller's own locks are not this command's to release
    try:
        code = app(args=None if args is None else list(args), prog_name="residency", standalone_mode=False)
    except USAGE_ERROR as error:  # a malformed flag or argument: one paragraph, as any input error
        if type(error).__name__ != "NoArgsIsHelpError":  # `residency` alone: the help is shown, exit 2 as before
            print_input_error(usage_error(error))
        sys.exit(EXIT_INPUT)
    except CLICK_ERROR as error:
        print_input_error(InputError("residency", None, str(error), "see `residency --help`."))
        sys.exit(EXIT_INPUT)
    except typer.Abort:  # end of input at a prompt, or a stop outside a command's own handler
        sys.exit(interrupted_status() if received else 1)
    except SystemExit as stop:
        if received and stop.code == 1:  # click's own "Aborted!" after a SIGTERM outside a command's handler
            sys.exit(interrupted_status())
        raise
    except InputError as error:
        print_input_error(error)
        sys.exit(EXIT_INPUT)
    except OSError as exc:  # a safety net: every OS failure is an input error, never a traceback
        where = exc.filename or "a file or folder"
        print_input_error(os_error(where, exc, "read or write"))
        sys.exit(EXIT_INPUT)
    else:  # typer.Exit(code) comes back as a value without standalone mode; success exits 0, as click's does
        if code == INTERRUPTED_BY_TYPER and not told:  # a stop no command's own handler caught: typer says nothing
            err.print("[bold yellow]interrupted:[/] stopped before the command finished. Files are written whole or "
                      "not at all, and a sweep's committed rows stay; run the same command again.")
            sys.exit(interrupted_status())
        sys.exit(code if isinstance(code, int) else 0)
    finally:  # Ctrl-C, SIGTERM or an error: no stale lock file, no empty output folder left behind
        release_all(keep=before)


def usage_error(error: Any) -> InputError:
    """Return a malformed flag or argument as an input error naming the command, the flag and the fix."""
    command = error.ctx.command_path if getattr(error, "ctx", None) is not None else "residency"
    hint = getattr(error, "param_hint", None)
    key = hint.strip("'\"") if isinstance(hint, str) else None
    return InputError(command, key, error.format_message().rstrip(".") + ".",
                      f"see `{command} --help` for what it takes.")
