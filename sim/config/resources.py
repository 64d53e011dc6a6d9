"""Where the project's shipped files are, wherever the command is run from.

An installed wheel carries the shipped configs and fact base as the package data
`sim.shipped` (`configs/` and `seeds/` mapped into it by pyproject.toml); a checkout, or an
editable install of one, reads the top-level `configs/` and `seeds/` folders themselves.
"""

from __future__ import annotations

import difflib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from sim.errors import InputError

PROJECT = Path(__file__).resolve().parents[2]
CONFIGS = Path("configs")
ARRANGEMENTS = CONFIGS / "arrangements"
SWEEPS = CONFIGS / "sweeps"
LESSONS = CONFIGS / "lessons"
OBSERVATIONS = CONFIGS / "explore"
#: Folders searched, in order, for a shipped config given by name (`oracle`, `world`, `mmc`).
NAMED_FOLDERS = (ARRANGEMENTS, CONFIGS / "common", CONFIGS / "validation")
#: What a command argument may name, and the shipped folders a name of that kind is looked up in.
Kind = Literal["config", "sweep", "lesson", "any"]
KIND_FOLDERS: dict[str, tuple[Path, ...]] = {
    "config": NAMED_FOLDERS,
    "sweep": (SWEEPS,),
    "lesson": (LESSONS,),
    "any": (*NAMED_FOLDERS, SWEEPS, LESSONS, OBSERVATIONS),
}
KIND_WORDS = {"config": "config (arrangement)", "sweep": "sweep", "lesson": "lesson",
              "any": "config, sweep or lesson"}


def shipped_root() -> Path:
    """Return the folder that holds the shipped `configs/` and `seeds/`: package data, else the checkout."""
    packaged = resources.files("sim.shipped")
    if isinstance(packaged, Path) and (packaged / "configs").is_dir():
        return packaged
    return PROJECT


def shipped_path(relative: Path) -> Path:
    """Return a shipped file or folder by its path relative to the project (`configs/lessons`)."""
    return shipped_root() / relative


def project_path(relative: Path) -> Path:
    """Return a shipped folder relative to the working folder if it is there, else the shipped one."""
    if relative.exists():
        return relative
    bundled = shipped_path(relative)
    return bundled if bundled.exists() else relative


def shipped_config(name: str) -> Path | None:
    """Return the shipped config with this name (an arrangement, a common base, a validation case), if any."""
    if not name or "/" in name or "\\" in name or name.endswith(".toml"):
        return None
    for folder in NAMED_FOLDERS:
        candidate = shipped_path(folder) / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def shipped_names(folder: Path) -> list[str]:
    """Return the names of the shipped TOML files in a folder, sorted."""
    return sorted(path.stem for path in shipped_path(folder).glob("*.toml"))


def shipped_title(path: Path, table: str) -> str | None:
    """Return a shipped file's title (its [scenario], [sweep] or [lesson] `title`), None if it cannot be read."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    title = data.get(table, {}).get("title", "")
    return str(title.get("value", "") if isinstance(title, dict) else title)


def resolve_named(argument: str | Path, kind: Kind = "config", flag: str | None = None) -> Path:
    """Return the file a command argument names: the path itself if it exists, else the shipped file of that name.

    Every command that takes a config, sweep or lesson calls this, so a shipped name (`oracle`,
    `oracle_stewards`, `backup`) works wherever a path does, and so does a file's name in the
    working folder without its `.toml` (`mine` for mine.toml, as `residency init mine` writes).
    A bare name that is neither a file nor a shipped name is refused with the closest shipped
    name; a path (with a folder or a `.toml` suffix) that does not exist is returned as is, for
    the loader to report.

    Args:
        argument: What the user typed: a path or a shipped name.
        kind: Which shipped folders to search: configs, sweeps, lessons, or all of them.
        flag: The flag the argument was given to, named in the error (None for a positional argument).

    Raises:
        InputError: The argument is a bare name that matches no file and no shipped name.
    """
    text = str(argument)
    path = Path(text)
    if path.exists() or "\x00" in text:
        return path
    beside = Path(f"{text}.toml")  # `residency init mine` writes mine.toml; `mine` then names it too
    if text and path.suffix != ".toml" and beside.is_file():
        return beside
    for folder in KIND_FOLDERS[kind]:
        candidate = shipped_path(folder) / f"{text}.toml"
        if text and "/" not in text and "\\" not in text and candidate.is_file():
            return candidate
    if path.suffix == ".toml" or len(path.parts) > 1:
        return path
    names = sorted({name for folder in KIND_FOLDERS[kind] for name in shipped_names(folder)})
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    hint = f"Did you mean `{close[0]}`? " if close else ""
    raise InputError(text, flag, f"there is no file of this name and no shipped {KIND_WORDS[kind]} called so.",
                     f"{hint}`residency list` shows the shipped names; or give a file's path.")
