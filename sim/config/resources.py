"""Where the project's shipped files are, wherever the command is run from."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def project_path(relative: Path) -> Path:
    """Return a shipped folder relative to the working folder if it is there, else the project's own."""
    if relative.exists():
        return relative
    bundled = PROJECT / relative
    return bundled if bundled.exists() else relative
