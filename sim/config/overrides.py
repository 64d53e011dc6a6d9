"""Setting a parameter by its dotted path in a resolved config, as --set and sampled ranges do."""

from __future__ import annotations

import copy
from typing import Any

from sim.config.diagnostics import did_you_mean
from sim.config.paths import join
from sim.errors import InputError


def set_path(data: dict[str, Any], key: str, value: Any, flag: str) -> None:
    """Set `value` at a dotted path that must already exist in the resolved config."""
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth])
        if isinstance(node, dict) and part in node:
            if depth == len(parts) - 1:
                node[part] = copy.deepcopy(value)
                return
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            if depth == len(parts) - 1:
                if isinstance(node, tuple):
                    raise _unknown_path(flag, key, "cannot replace a whole list item", [])
                node[int(part)] = value
                return
            node = node[int(part)]
        else:
            choices = list(node) if isinstance(node, dict) else [str(i) for i in range(len(node))] \
                if isinstance(node, (list, tuple)) else []
            hint = did_you_mean(part, {c: None for c in choices}, prefix=here)
            return _raise_unknown(flag, key, hint, choices, here)
    raise _unknown_path(flag, key, "the path is empty", [])


def _raise_unknown(flag: str, key: str, hint: str, choices: list[str], here: str) -> None:
    shown = ", ".join(f"{join(here, c)}" for c in choices[:12])
    raise InputError(
        flag, key, "no parameter has this dotted path." + (f" {hint}" if hint else ""),
        "use a path that `residency facts CONFIG` lists" + (f" (here: {shown})." if shown else "."),
    )


def _unknown_path(flag: str, key: str, why: str, choices: list[str]) -> InputError:
    return InputError(flag, key, f"{why}.", "set a single parameter by its full dotted path.")
