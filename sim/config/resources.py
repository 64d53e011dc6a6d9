"""Where the project's shipped files are, wherever the command is run from.

An installed wheel carries the shipped configs and fact base as the package data
`sim.shipped` (`configs/` and `seeds/` mapped into it by pyproject.toml); a checkout, or an
editable install of one, reads the top-level `configs/` and `seeds/` folders themselves.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CONFIGS = Path("configs")
ARRANGEMENTS = CONFIGS / "arrangements"
SWEEPS = CONFIGS / "sweeps"
LESSONS = CONFIGS / "lessons"
#: Folders searched, in order, for a shipped config given by name (`oracle`, `world`, `mmc`).
NAMED_FOLDERS = (ARRANGEMENTS, CONFIGS / "common", CONFIGS / "validation")


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
