"""Commands to start from what ships: `init` writes a config to edit, `list` shows the shipped files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import app, err, fail, out
from sim.config.checks import warnings
from sim.config.loader import load_config
from sim.config.resources import ARRANGEMENTS, LESSONS, SWEEPS, shipped_config, shipped_names, shipped_path
from sim.errors import InputError

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

HEADER = """\
# {name}: a new arrangement, started from the shipped `{source}` (residency init).
#
# It includes the shipped world (actor groups, data classes, companies) by name, so this file
# works wherever it is saved, and sets its own sites, gate, routes and controls below.
# Every value says where it comes from: `{{ value = ..., fact = "<id>" }}` cites the fact base
# (`residency facts {name}.toml` shows each one), `{{ value = ..., assume = "<reason>" }}` names an
# assumption, and a table's `provenance = {{...}}` line covers its bare values.
#
# Next: `residency validate {name}.toml --strict` (every problem and warning at once), then
# `residency compare {name}.toml status_quo oracle` (shipped arrangements by name).
# Anything not written here takes the schema default; `residency facts` marks those.
"""


def starter_text(name: str, source: str) -> str:
    """Return the text of a new config: the shipped arrangement's, renamed, including the world by name."""
    path = shipped_config(source)
    if path is None or path.parent.name != ARRANGEMENTS.name:
        raise InputError("--from", source, "this is not a shipped arrangement.",
                         f"use one of: {', '.join(shipped_names(ARRANGEMENTS))}.")
    lines = path.read_text(encoding="utf-8").splitlines()
    body = [line for line in lines[next(i for i, line in enumerate(lines) if not line.startswith("#")):]]
    text = "\n".join(body) + "\n"
    text = re.sub(r'^include = ".*"$', 'include = "world"', text, count=1, flags=re.M)
    text = re.sub(r'^name = ".*"$', f'name = "{name}"', text, count=1, flags=re.M)
    text = re.sub(r'^title = ".*"$', f'title = "{name} (started from {source})"', text, count=1, flags=re.M)
    original = "\n".join(f"# {line[1:].strip()}" if line.startswith("#") else line
                         for line in lines if line.startswith("#"))
    return HEADER.format(name=name, source=source) + "#\n# The original's note:\n" + original + "\n\n" + text


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="The new scenario's name (also the file name, NAME.toml).")],
    from_: Annotated[str, typer.Option("--from", help="The shipped arrangement to start from.")] = "status_quo",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write NAME.toml in.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite NAME.toml if it exists.")] = False,
) -> None:
    """Write a new, valid, commented config to start from (a copy of a shipped arrangement)."""
    try:
        if not NAME.match(name):
            raise InputError("NAME", name, "a scenario name must start with a letter and hold only letters, "
                             "digits, _ and -.", "choose a name such as oracle_walmart_2020.")
        target = out_dir / f"{name}.toml"
        if target.exists() and not force:
            raise InputError(str(target), None, "the file already exists.", "choose another name, or add --force.")
        text = starter_text(name, from_)
        out_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        loaded = load_config(target)
    except InputError as error:
        fail(error)
    for warning in warnings(loaded):
        err.print(f"[bold yellow]warning:[/] {escape(warning)}")
    out.print(f"wrote {target} ({loaded.name}, {len(loaded.provenance)} sourced parameters; "
              f"started from {from_})")


@app.command("list")
def list_shipped() -> None:
    """Show the shipped arrangements, sweeps and lessons with their titles."""
    for folder, kind, table_key in ((ARRANGEMENTS, "arrangements", "scenario"), (SWEEPS, "sweeps", "sweep"),
                                    (LESSONS, "lessons", "lesson")):
        table = Table(title=f"Shipped {kind} ({shipped_path(folder)})", title_justify="left")
        table.add_column("name", no_wrap=True)
        table.add_column("title")
        for name in shipped_names(folder):
            table.add_row(name, title_of(shipped_path(folder) / f"{name}.toml", table_key))
        out.print(table)
    out.print("Use a name wherever a config is expected (`residency compare status_quo oracle`), "
              '`include = "world"` in your own config, and `residency init NAME --from ARRANGEMENT` to start one.')


def title_of(path: Path, table: str) -> str:
    """Return a shipped file's title (its [scenario], [sweep] or [lesson] title)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return "(unreadable)"
    title = data.get(table, {}).get("title", "")
    return str(title.get("value", "") if isinstance(title, dict) else title)

