"""Dotted paths over a config's nested dicts and lists (`gatekeeper.reviewers`, `routes.0.gate`), walked once."""

from __future__ import annotations

from typing import Any


def get_path(data: Any, key: str, default: Any = None) -> Any:
    """Return the value at a dotted path of nested dicts and lists (a digit indexes a list), else `default`."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


def join(prefix: str, key: str) -> str:
    """Join a dotted prefix and a key."""
    return f"{prefix}.{key}" if prefix else key
