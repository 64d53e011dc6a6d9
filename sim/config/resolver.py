"""Planning's resolver: `with_values` over the same paths for many sets of values, paying for the paths only."""

from __future__ import annotations

import copy
import typing
from typing import Any

from sim.config.loader import (
    LoadedConfig,
    Provenance,
    override_record,
    recorded,
    records_kept,
    toml_literal,
    validate_overridden,
    with_values,
)
from sim.config.overrides import ATOMS, path_tree, share_along


class Resolver:
    """`with_values` over the same paths for many sets of values (the worlds of a plan), paying for the paths only.

    The config is dumped once; each call copies only the tables and lists on the paths (the
    rest of the dump is shared: validation reads its input and never writes it), validates the
    whole config as `with_values` does, and shares every part no path reaches with `loaded`. It
    returns what `with_values` returns and raises the same errors; values for other paths than
    those given, or paths that repeat, nest or cross a tuple, go the long way (`with_values`).
    """

    def __init__(self, loaded: LoadedConfig, keys: typing.Sequence[str]) -> None:
        self.loaded = loaded
        self.keys = tuple(keys)
        split = [key.split(".") for key in self.keys]
        self.tree: dict[str, Any] | None = path_tree(split) if self.keys else None
        self.data = loaded.config.model_dump() if self.tree is not None else {}
        self.slots = _slots(self.data, self.tree, split) if self.tree is not None else None

    def resolve(self, values: typing.Sequence[tuple[str, Any, str]], records: Records | None = None) -> LoadedConfig:
        """Return `with_values(loaded, values)`; `values` are (key, value, flag) in the order of the keys given.

        `records`: the overrides' records, shared by the configs that take the same values (a world's arrangements).
        """
        if not self.slots or tuple(key for key, _, _ in values) != self.keys:
            return with_values(self.loaded, values)
        loaded = self.loaded
        data = _set_along(self.data, self.slots, [value for _, value, _ in values])
        config = share_along(validate_overridden(data, loaded, values), loaded.config, self.tree)
        if records is None:
            return recorded(loaded, config, [(key, toml_literal(value), flag) for key, value, flag in values])
        return records_kept(loaded, config, [records.of(key, value, flag) for key, value, flag in values])


class Records:
    """Overrides' records (`override_record`), each worked out once for the configs that are given the same value.

    A world's values are set on each of its arrangements: their TOML texts and provenance are the same, and
    shared. A value is known again by its type and value (a float also by its sign, as -0.0 equals 0.0, and
    unhashable values not at all); keep one `Records` per world, so that what it holds does not grow with the worlds.
    """

    def __init__(self) -> None:
        self.found: dict[tuple[Any, ...], tuple[str, Provenance, str]] = {}

    def of(self, key: str, value: Any, flag: str) -> tuple[str, Provenance, str]:
        """Return `override_record(key, toml_literal(value), flag)`, the same object for the same arguments."""
        kind = type(value)
        memo: tuple[Any, ...] | None = None
        if kind is float:
            memo = (key, flag, kind, value.hex())
        elif kind in (int, str, bool):
            memo = (key, flag, kind, value)
        found = None if memo is None else self.found.get(memo)
        if found is None:
            found = override_record(key, toml_literal(value), flag)
            if memo is not None:
                self.found[memo] = found
        return found


def _slots(data: Any, tree: dict[str, Any], split: list[list[str]]) -> dict[str, Any] | None:
    """Return `tree` with each path's end numbered by its place among the keys, or None when the paths repeat,
    nest, do not all lead through the dump's tables, lists and tuples, or end in a tuple (the long way says why)."""
    if len({tuple(path) for path in split}) != len(split) or any(
            a != b and a[:len(b)] == b for a in split for b in split):
        return None
    order = {tuple(path): i for i, path in enumerate(split)}

    def walk(node: Any, below: dict[str, Any], prefix: tuple[str, ...]) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for part, rest in below.items():
            if isinstance(node, dict) and part in node:
                child = node[part]
            elif isinstance(node, list | tuple) and part.isdecimal() and int(part) < len(node):
                child = node[int(part)]
            else:
                return None
            if rest is None and isinstance(node, tuple):
                return None  # set_path refuses to replace a tuple's item: the long way says so
            if rest is None:
                out[part] = order[(*prefix, part)]
            else:
                inner = walk(child, rest, (*prefix, part))
                if inner is None:
                    return None
                out[part] = inner
        return out

    return walk(data, tree, ())


def _set_along(node: Any, slots: dict[str, Any], values: list[Any]) -> Any:
    """Return a copy of `node` with the tables, lists and tuples on the slots' paths copied and each slot's value
    set, as `set_path` sets it; the rest is shared."""
    if isinstance(node, dict):
        copied: Any = dict(node)
        for part, below in slots.items():
            if type(below) is int:
                value = values[below]
                copied[part] = value if type(value) in ATOMS else copy.deepcopy(value)
            else:
                copied[part] = _set_along(node[part], below, values)
        return copied
    items = list(node)
    for part, below in slots.items():
        index = int(part)
        items[index] = values[below] if type(below) is int else _set_along(node[index], below, values)
    return items if isinstance(node, list) else tuple(items)
