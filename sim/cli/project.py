"""Commands to start from what ships: `init` writes a config to edit, `list` shows the shipped files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import app, err, fail, out
from sim.config.checks import warnings
from sim.config.loader import include_path, load_config
from sim.config.resources import (
    ARRANGEMENTS,
    LESSONS,
    SWEEPS,
    resolve_named,
    shipped_config,
    shipped_names,
    shipped_path,
    shipped_title,
)
from sim.config.schema import display
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


#: Colours a new config may take: none is a shipped arrangement's (Okabe-Ito's black, then CARTO's "Bold").
INIT_COLOURS = ("#000000", "#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A", "#008695")


def starter_text(name: str, source: str, taken: set[str] | None = None) -> str:
    """Return the text of a new config: a shipped arrangement's (or a file's), renamed, with its own look.

    The new config gets its own display name and a colour that no shipped arrangement (nor any
    colour in `taken`) uses, so a comparison with the original tells the two apart; its include
    names a shipped base by name where it can, so the file works wherever it is saved.
    """
    path = _source_path(source)
    lines = path.read_text(encoding="utf-8").splitlines()
    body = [line for line in lines[next((i for i, line in enumerate(lines) if not line.startswith("#")), 0):]]
    text = "\n".join(body) + "\n"
    include = re.search(r'^include = "(.*)"$', text, flags=re.M)
    if include is not None:
        text = text.replace(include.group(0), f'include = "{_portable_include(path, include.group(1))}"', 1)
    text = re.sub(r'^name = ".*"$', f'name = "{name}"', text, count=1, flags=re.M)
    text = re.sub(r'^title = ".*"$', f'title = "{name} (started from {source})"', text, count=1, flags=re.M)
    look = f'display = "{display(name)}"\ncolour = "{_free_colour(taken or set())}"'
    text = re.sub(r'^(display|colour) = ".*"\n', "", text, flags=re.M)
    text = re.sub(r'^(name = ".*")$', lambda m: m.group(1) + "\n" + look, text, count=1, flags=re.M)
    original = "\n".join(f"# {line[1:].strip()}" if line.startswith("#") else line
                         for line in lines if line.startswith("#"))
    return HEADER.format(name=name, source=source) + "#\n# The original's note:\n" + original + "\n\n" + text


def _source_path(source: str) -> Path:
    """Return the file `--from` names: a config file, else a shipped arrangement (with did-you-mean)."""
    path = Path(source)
    if path.is_file():
        return path
    try:
        found = resolve_named(source, "config", "--from")
    except InputError as error:
        raise InputError("--from", source, "this is not a shipped arrangement or a config file.",
                         error.fix.replace("`residency list` shows the shipped names", "use one of: "
                                           + ", ".join(shipped_names(ARRANGEMENTS)))) from None
    if not found.is_file():
        raise InputError("--from", source, "the file does not exist.",
                         f"give a config file's path or one of: {', '.join(shipped_names(ARRANGEMENTS))}.")
    return found


def _portable_include(path: Path, include: str) -> str:
    """Return an include that works from anywhere: a shipped base's name, else the included file's full path."""
    resolved = include_path(path, include)
    if shipped_config(resolved.stem) == resolved:
        return resolved.stem
    return str(resolved)


def _free_colour(taken: set[str]) -> str:
    """Return the first colour of INIT_COLOURS that no shipped arrangement and nothing in `taken` uses."""
    used = {c.upper() for c in taken}
    for name in shipped_names(ARRANGEMENTS):
        found = re.search(r'^colour = "(#[0-9A-Fa-f]{6})"', shipped_path(ARRANGEMENTS / f"{name}.toml")
                          .read_text(encoding="utf-8"), flags=re.M)
        if found:
            used.add(found.group(1).upper())
    return next((c for c in INIT_COLOURS if c.upper() not in used), INIT_COLOURS[0])


def _colours_in(folder: Path) -> set[str]:
    """Return the colours the configs already in a folder use, so a second `init` there picks another."""
    found: set[str] = set()
    for path in folder.glob("*.toml") if folder.is_dir() else []:
        try:
            match = re.search(r'^colour = "(#[0-9A-Fa-f]{6})"', path.read_text(encoding="utf-8"), flags=re.M)
        except (OSError, UnicodeDecodeError):
            continue
        if match:
            found.add(match.group(1))
    return found


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="The new scenario's name (also the file name, NAME.toml).")],
    from_: Annotated[str, typer.Option("--from", help="The shipped arrangement (or config file) to start from.")]
    = "status_quo",
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
        text = starter_text(name, from_, _colours_in(out_dir))
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
            table.add_row(name, shipped_title(shipped_path(folder) / f"{name}.toml", table_key) or "(unreadable)")
        out.print(table)
    out.print("Use a name wherever a config is expected (`residency compare status_quo oracle`), "
              '`include = "world"` in your own config, and `residency init NAME --from ARRANGEMENT` to start one.')

