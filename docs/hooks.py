"""MkDocs hooks: the reference pages' tables are written from the code at build time, so they cannot drift.

A page asks for a generated part with an HTML comment alone on a line:

- `<!-- generated: cli -->`: every `residency` command, its arguments and options (from the typer app);
- `<!-- generated: metrics -->`: the metric catalogue (`sim.metrics.catalogue.METRICS`);
- `<!-- generated: config -->`: every config table and key, its type, default, bounds and description
  (from the pydantic schema `sim.config.schema.Config`);
- `<!-- generated: dataflow -->`: the data-flow map of each shipped arrangement, drawn at build time.

The same functions run in the tests (`tests/test_docs.py`), which also check every marker is known.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MARKER = re.compile(r"^<!-- generated: (\w+) -->$", re.MULTILINE)


def _cell(text: object) -> str:
    """Return text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


# -- the command line ------------------------------------------------------------------------------


# Typer carries its own copy of click's classes, so commands and parameters are told apart by what they
# have (a group has `commands`, an option has `opts` and `secondary_opts`), not by click's types.


def _commands(group: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Yield every command under a group, depth first, with its full name."""
    for name in sorted(getattr(group, "commands", {})):
        command = group.commands[name]
        if command.hidden:
            continue
        full = f"{prefix} {name}"
        yield full, command
        yield from _commands(command, full)


def _option_row(param: Any) -> str:
    """Return one Markdown table row for an option or argument."""
    if param.param_type_name == "argument":
        names = f"`{(param.metavar or param.name).upper()}`" + (" ..." if param.nargs == -1 or param.multiple else "")
        help_text = getattr(param, "help", None) or ""
        default = ""
    else:
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        help_text = param.help or ""
        default = "" if param.default in (None, (), [], False) or callable(param.default) else f"`{param.default}`"
    descriptor = getattr(param, "type_descriptor", None)
    kind = "flag" if getattr(param, "is_flag", False) else _type_name(getattr(descriptor, "annotation", ""))
    return f"| {names} | {_cell(kind)} | {_cell(default)} | {_cell(help_text)} |"


def cli_reference() -> str:
    """Return the reference of every `residency` command, written from the typer app itself."""
    import typer

    from sim.cli import app

    root = typer.main.get_command(app)
    lines: list[str] = []
    for name, command in _commands(root, "residency"):
        lines += [f"## `{name}`", ""]
        summary = (command.help or "").strip()
        if summary:
            lines += [summary.split("\n\n")[0].replace("\n", " "), ""]
        usage = " ".join(command.collect_usage_pieces(command.context_class(command, info_name=name)))
        lines += ["```", f"{name} {usage}".rstrip(), "```", ""]
        params = [p for p in command.params if not getattr(p, "hidden", False) and p.name != "help"]
        if params:
            lines += ["| argument or option | type | default | what |", "|---|---|---|---|"]
            lines += [_option_row(p) for p in params]
            lines.append("")
    return "\n".join(lines)


# -- the metric catalogue -------------------------------------------------------------------------


def metrics_reference() -> str:
    """Return the metric catalogue as a table: path, kind, unit, label, headline tables and per-year."""
    from sim.metrics.catalogue import METRICS

    lines = ["| path | kind | unit | label | headline tables | per year |", "|---|---|---|---|---|---|"]
    for metric in METRICS:
        tables = ", ".join(sorted(metric.headline)) or "–"
        yearly = {"sum": "sums to the whole", "own": "each year's own", "": "–"}[metric.yearly]
        lines.append(f"| `{metric.path}` | {metric.kind} | {_cell(metric.unit)} | {_cell(metric.label)} "
                     f"| {tables} | {yearly} |")
    return "\n".join(lines)


# -- the config schema ----------------------------------------------------------------------------


def _type_name(annotation: Any) -> str:
    """Return a short readable name of a type annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + (
            " (optional)" if type(None) in args else "")
    if origin in (tuple, list):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    if isinstance(annotation, type):
        return {"str": "text", "float": "number", "int": "integer", "bool": "true/false",
                "date": "date"}.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _bounds(field: FieldInfo) -> str:
    """Return a field's numeric bounds, from its own constraints and its annotated type's."""
    found: list[str] = []
    metadata = list(field.metadata)
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            metadata += list(getattr(extra, "metadata", [extra]))
    for item in metadata:
        for attribute, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                found.append(f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}")
    return ", ".join(dict.fromkeys(found))


def _default(field: FieldInfo) -> str:
    """Return a field's default as shown in the reference."""
    if field.default is PydanticUndefined:
        return "required" if field.default_factory is None else "empty"
    if isinstance(field.default, BaseModel):
        return "see its table"
    if field.default in ("", None, ()):
        return "–"
    return f"`{field.default}`"


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """Yield the schema parts an annotation holds (a part, a table or list of parts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def config_reference() -> str:
    """Return every table of a config and its keys, written from the pydantic schema itself."""
    from sim.config.schema import Config

    lines: list[str] = []
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("top level", Config)]
    while queue:
        where, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines += [f"### {where}", "", doc, "", "| key | type | default | bounds | what |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {_bounds(field)} "
                         f"| {_cell(field.description or '')} |")
            for part in _models(field.annotation):
                table = f"[{name}]" if typing.get_origin(field.annotation) is None else f"{name}"
                queue.append((f"`{table}` ({part.__name__})", part))
        lines.append("")
    return "\n".join(lines)


# -- the data-flow maps ---------------------------------------------------------------------------

#: The shipped arrangements the concepts page draws, in the order it shows them.
MAPPED = ("status_quo", "oracle", "microsoft", "google", "joint_venture")
MAP_FOLDER = "concepts/maps"


def dataflow_pngs() -> dict[str, bytes]:
    """Return each mapped arrangement's data-flow map (structure only, no run) as PNG bytes by file name."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from sim.config.loader import load_config
    from sim.config.resources import shipped_config
    from sim.report.maps import dataflow_map

    pictures: dict[str, bytes] = {}
    for name in MAPPED:
        path = shipped_config(name)
        assert path is not None, name
        config = load_config(path).config
        figure = dataflow_map(config, {}, f"residency: configs/arrangements/{name}.toml, no run (no leaks drawn)",
                              config.scenario.display or name)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
        pictures[f"dataflow_{name}.png"] = buffer.getvalue()
    return pictures


def dataflow_section() -> str:
    """Return the concepts page's maps: one image per mapped arrangement."""
    return "\n\n".join(f"### `{name}`\n\n![The data-flow map of {name}](maps/dataflow_{name}.png)"
                        for name in MAPPED)


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": cli_reference,
    "metrics": metrics_reference,
    "config": config_reference,
    "dataflow": dataflow_section,
}


def expand(markdown: str) -> str:
    """Return the page with each generated marker replaced by its table; an unknown marker is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"unknown generated part {name!r}: known are {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """MkDocs hook: add the data-flow maps, drawn now, as files of the site (never written into docs/)."""
    from mkdocs.structure.files import File

    for name, content in dataflow_pngs().items():
        files.append(File.generated(config, f"{MAP_FOLDER}/{name}", content=content))
    return files


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs hook: expand the generated parts of a page."""
    return expand(markdown)
