"""Setting a parameter by its dotted path in a resolved config, as --set and sampled ranges do."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from sim.config.diagnostics import did_you_mean
from sim.config.paths import join
from sim.errors import InputError

#: Values that cannot be changed in place, so set as they are (anything else is copied first).
ATOMS = frozenset({int, float, str, bool, type(None)})


def set_path(data: dict[str, Any], key: str, value: Any, flag: str) -> None:
    """Set `value` at a dotted path that must already exist in the resolved config."""
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        if isinstance(node, dict) and part in node:
            if depth == len(parts) - 1:
                node[part] = value if type(value) in ATOMS else copy.deepcopy(value)
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
            here = ".".join(parts[:depth])
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


def path_tree(paths: list[list[str]]) -> dict[str, Any]:
    """Return dotted paths (split at the dots) as a tree: each part maps to the tree below it, None where a path ends.

    A path that ends where another goes on ends there: the part is overridden whole.
    """
    tree: dict[str, Any] = {}
    for path in paths:
        node: dict[str, Any] | None = tree
        for depth, part in enumerate(path):
            assert node is not None
            if depth == len(path) - 1:
                node[part] = None
            elif node.get(part, {}) is None:
                break
            else:
                node = node.setdefault(part, {})
    return tree


def share_untouched(new: Any, base: Any, paths: list[list[str]]) -> Any:
    """Return `new` with every part no path reaches taken from `base`, which validated the same data there.

    A resolved config differs from its base only along the overridden paths; sharing the rest
    keeps a plan of thousands of points as small as their overrides. A part is shared only when
    `new` and `base` hold the same type there, and only where no path leads.

    Args:
        new: The config (or part of it) validated with the overrides applied.
        base: The same part of the config they were applied to.
        paths: The overridden dotted paths below this part, split at the dots.
    """
    if not paths:
        return base if type(new) is type(base) else new
    if any(not path for path in paths):
        return new
    return share_along(new, base, path_tree(paths))


def share_along(new: Any, base: Any, tree: dict[str, Any] | None) -> Any:
    """Return `share_untouched(new, base, paths)` given the paths as a non-empty `path_tree` (built once for many)."""
    if tree is None or type(new) is not type(base):
        return new
    if isinstance(new, BaseModel):
        shared = new.model_copy()  # keeps `new`'s set fields; its values are then replaced in place
        shared.__dict__.update(base.__dict__)
        shared.__dict__.update({name: share_along(new.__dict__[name], base.__dict__[name], below)
                                for name, below in tree.items() if name in new.__dict__})
        return shared
    if isinstance(new, dict) and new.keys() == base.keys():
        return base | {key: share_along(new[key], base[key], below) for key, below in tree.items() if key in new}
    if isinstance(new, (list, tuple)) and len(new) == len(base):
        items = list(base)
        for key, below in tree.items():
            if key.isdigit() and int(key) < len(items):
                items[int(key)] = share_along(new[int(key)], base[int(key)], below)
        return type(new)(items)
    return new
