"""Checks on names that become folder or file names, and on numbers' plausible ranges."""

from __future__ import annotations

MAX_NAME_LENGTH = 100


def name_problem(name: str) -> str | None:
    """Return why a name cannot be a single folder or file name, or None if it can."""
    if not name or not name.strip():
        return "the name is empty"
    if "\x00" in name:
        return "the name holds a NUL character"
    if not name.isprintable():
        return "the name holds a control or non-printable character"
    if "/" in name or "\\" in name:
        return "the name holds a path separator (/ or \\)"
    if name.startswith(".") or name != name.strip():
        return "the name starts with a dot or a space (it would be hidden, or climb out of its folder)"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is longer than {MAX_NAME_LENGTH} characters"
    return None


def check_path_name(name: str) -> str:
    """Return a name fit to become a folder name, or raise a ValueError saying why not."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(f"{problem}, and it becomes a folder name: use letters, digits, '-' and '_' only")
    return name
