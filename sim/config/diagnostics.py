"""Bad config input in words: one readable InputError from pydantic's errors, with a fix and did-you-mean."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sim.config.paths import join
from sim.config.schema import Config
from sim.errors import InputError

Model = TypeVar("Model", bound=BaseModel)


def validated(root: type[Model], data: Any, source: str) -> Model:
    """Return `data` validated as `root`, its first error turned into one readable InputError naming `source`."""
    try:
        return root.model_validate(data)
    except ValidationError as exc:
        raise error_from_pydantic(exc, source, root) from None


def error_from_pydantic(exc: ValidationError, source: str, root: type[BaseModel] = Config) -> InputError:
    """Build one readable InputError from the first error pydantic found."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc)
    kind = first["type"]
    more = f" ({len(errors) - 1} more problem(s) after this one.)" if len(errors) > 1 else ""
    if kind == "reference":
        ctx = first.get("ctx") or {}
        return InputError(source, str(ctx.get("key", key)), str(ctx.get("problem")) + more,
                          str(ctx.get("fix") or "define it, or correct the name to one of those listed."))
    if kind == "extra_forbidden":
        known = known_keys(loc[:-1], root)
        hint = did_you_mean(loc[-1], {k: None for k in known}, prefix=".".join(loc[:-1]))
        return InputError(
            source, key, "this key is not a parameter of the schema." + more,
            (hint + " " if hint else "") + "Rename or remove it (README: 'Writing a config' "
            "lists the keys).",
        )
    if kind == "missing":
        return InputError(source, key, "this required parameter is missing." + more,
                          "add it, with its value and its provenance.")
    value = first.get("input")
    message = first["msg"].removeprefix("Value error, ")
    return InputError(source, key, f"{message} (got {value!r})." + more, fix_for(kind, first))


def fix_for(kind: str, error: Any) -> str:
    """Suggest a fix for a pydantic error type."""
    ctx = error.get("ctx") or {}
    if kind in {"greater_than_equal", "greater_than"}:
        return f"use a number {'>=' if kind.endswith('equal') else '>'} {ctx.get('ge', ctx.get('gt'))}."
    if kind in {"less_than_equal", "less_than"}:
        return f"use a number {'<=' if kind.endswith('equal') else '<'} {ctx.get('le', ctx.get('lt'))}."
    if kind == "literal_error":
        return f"use one of {ctx.get('expected')}."
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = kind.split("_")[0]
        return f"give a value of type {expected} (TOML: numbers unquoted, text in quotes)."
    return "correct the value as the message says."


def did_you_mean(word: str, choices: typing.Mapping[str, Any], prefix: str = "") -> str:
    """Return 'Did you mean `x`?' for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return ""
    return f"Did you mean `{join(prefix, close[0])}`?"


def known_keys(loc: list[str], root: type[BaseModel] = Config) -> list[str]:
    """Return the field names the schema accepts at a location, for did-you-mean hints."""
    model: Any = root
    for part in loc:
        model = _inner(model, part)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner(tp: Any, part: str) -> Any:
    """Step one location part into a type: a model field, a dict value or a tuple item."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = tp.model_fields.get(part)
        return _unwrap(info.annotation) if info else None
    origin = typing.get_origin(tp)
    if origin in (dict, tuple, list):
        args = typing.get_args(tp)
        return _unwrap(args[-1] if origin is dict else args[0])
    return None


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated wrappers from a type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp
