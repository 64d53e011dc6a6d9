"""Load a TOML scenario: strip and check provenance, apply overrides, validate the schema."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
import stat
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.config.diagnostics import Model, validated
from sim.config.diagnostics import did_you_mean as did_you_mean
from sim.config.diagnostics import error_from_pydantic as error_from_pydantic
from sim.config.facts import Fact, find_fact_base, load_facts
from sim.config.overrides import set_path, share_untouched
from sim.config.paths import get_path, join
from sim.config.ranges import RANGE_KEYS, Alternatives, Range, parse_spread
from sim.config.resources import shipped_config
from sim.config.schema import Config
from sim.errors import InputError

#: Keys that describe a scenario rather than parameterise it: they need no provenance.
UNSOURCED_KEYS = frozenset(
    {"scenario.name", "scenario.title", "scenario.description", "scenario.seed",
     "scenario.replications"}
)
#: Leaf names that only say how to show a thing (names, colours): they need no provenance either.
DISPLAY_KEYS = frozenset({"title", "display", "colour"})
PROVENANCE_KEY = "provenance"
INCLUDE_KEY = "include"
SOURCED_LEAF_KEYS = frozenset({"value", "fact", "assume", "note"}) | RANGE_KEYS
MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True)
class Provenance:
    """Where a parameter's value comes from: a fact, an assumption or an override."""

    kind: str  # "fact", "assume" or "override"
    detail: str
    spread: Range | Alternatives | None = None

    def describe(self, facts: dict[str, Fact]) -> str:
        """Return a one-line description, citing the fact's source where there is one."""
        if self.kind == "fact":
            cites = [facts[i].citation() if i in facts else i for i in self.detail.split(",")]
            text = f"fact {self.detail}: " + "; ".join(cites)
        elif self.kind == "assume":
            text = f"assumption: {self.detail}"
        else:
            return f"override: {self.detail}"
        return text + self.describe_spread()

    def describe_spread(self) -> str:
        """Return ` (range [lo, hi] uniform; ...)` or ` (alternatives ...)`, empty without a spread."""
        own = self.own_cite()
        if isinstance(self.spread, Range):
            cite = "" if self.spread.cite == own else f"; {self.spread.cite}"
            return f" (range [{self.spread.low:g}, {self.spread.high:g}] {self.spread.distribution}{cite})"
        if isinstance(self.spread, Alternatives):
            cite = "" if self.spread.cite == own else f"; {self.spread.cite}"
            return f" (alternatives {', '.join(self.spread.choices)}{cite})"
        return ""

    def own_cite(self) -> str:
        """Return `fact <id>` or `assumption: <why>`: the citation a range inherits by default."""
        return f"fact {self.detail}" if self.kind == "fact" else f"assumption: {self.detail}"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with the provenance of each parameter and the overrides applied."""

    config: Config
    path: Path
    provenance: dict[str, Provenance]
    overrides: tuple[str, ...] = ()
    facts: dict[str, Fact] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Return the scenario's name."""
        return self.config.scenario.name

    @property
    def ranges(self) -> dict[str, Range]:
        """Return the plausible range of every ranged numeric parameter, by dotted path."""
        return {key: prov.spread for key, prov in self.provenance.items() if isinstance(prov.spread, Range)}

    @property
    def alternatives(self) -> dict[str, Alternatives]:
        """Return the alternatives of every categorical parameter that lists them, by dotted path."""
        return {key: prov.spread for key, prov in self.provenance.items()
                if isinstance(prov.spread, Alternatives)}


def load_config(
    path: Path | str, overrides: typing.Sequence[tuple[str, str, str]] = ()
) -> LoadedConfig:
    """Read, check and validate a config file, then apply (key, value, flag) overrides."""
    path = Path(path)
    check_regular_file(path)
    facts_path = find_fact_base(path.resolve().parent)
    facts = load_facts(facts_path) if facts_path else {}
    plain, provenance = read_sourced(path, facts, facts_path, ())
    loaded = settle_spreads(LoadedConfig(validate(plain, str(path)), path, provenance, (), facts))
    check_spreads(loaded)
    return with_overrides(loaded, overrides)


def with_overrides(
    loaded: LoadedConfig, overrides: typing.Sequence[tuple[str, str, str]]
) -> LoadedConfig:
    """Return a loaded config with (key, value, flag) overrides applied and validated."""
    return _apply(loaded, overrides, typed=False)


def with_values(loaded: LoadedConfig, values: typing.Sequence[tuple[str, Any, str]]) -> LoadedConfig:
    """Return a loaded config with typed (key, value, flag) values set and validated, as `--set` would.

    The values skip the TOML text round trip (what a sampled world sets is already a value);
    the provenance and the overrides record their TOML text as `--set` would, a value the
    schema refuses gives `--set`'s error, and the resolved config shares every part no value
    reaches with `loaded`, so thousands of resolved points cost little more than their values.
    """
    return _apply(loaded, values, typed=True)


def _apply(loaded: LoadedConfig, overrides: typing.Sequence[tuple[str, Any, str]], typed: bool) -> LoadedConfig:
    """Set each override (TOML text, or a value when `typed`), validate once, and record the provenance."""
    if not overrides:
        return loaded
    data = loaded.config.model_dump()
    texts = []
    for key, given, flag in overrides:
        value, text = (given, toml_literal(given)) if typed else (_parse_override(key, given, flag), given)
        set_path(data, key, value, flag)
        texts.append((key, text, flag))
    config = validate_overridden(data, loaded, overrides)
    if typed:
        config = share_untouched(config, loaded.config, [key.split(".") for key, _, _ in overrides])
    return recorded(loaded, config, texts)


def validate_overridden(data: dict[str, Any], loaded: LoadedConfig,
                        overrides: typing.Sequence[tuple[str, Any, str]]) -> Config:
    """Validate a config's data with overrides set, blaming an error on the override that set its key."""
    try:
        return validate(data, str(loaded.path))
    except InputError as error:
        raise blame_override(error, overrides, loaded.path) from None


def recorded(loaded: LoadedConfig, config: Config, texts: typing.Iterable[tuple[str, str, str]]) -> LoadedConfig:
    """Return `config` as `loaded` with (key, TOML text, flag) overrides recorded in its provenance and overrides."""
    return records_kept(loaded, config, (override_record(key, text, flag) for key, text, flag in texts))


def override_record(key: str, text: str, flag: str) -> tuple[str, Provenance, str]:
    """Return what `recorded` keeps of one override: its key, its provenance, and its `key=text` entry."""
    return key, Provenance("override", f"{flag} {key}={text}"), f"{key}={text}"


def records_kept(loaded: LoadedConfig, config: Config,
                 records: typing.Iterable[tuple[str, Provenance, str]]) -> LoadedConfig:
    """Return `config` as `loaded` with overrides' records (`override_record`) in its provenance and overrides."""
    provenance = dict(loaded.provenance)
    applied = list(loaded.overrides)
    for key, source, entry in records:
        provenance[key] = source
        applied.append(entry)
    return LoadedConfig(config, loaded.path, provenance, tuple(applied), loaded.facts)


def _parse_override(key: str, value: str, flag: str) -> Any:
    """Return an override's TOML text as a value, or fail naming the flag and the key."""
    try:
        return parse_value(value)
    except ValueError as exc:
        raise InputError(flag, key, f"the value {value} is not a TOML value: {exc}.",
                         f"close the quote or bracket, and quote the whole override for the shell: "
                         f"`--set '{key}=\"text\"'`.") from None


def blame_override(
    error: InputError, overrides: typing.Sequence[tuple[str, Any, str]], path: Path
) -> InputError:
    """Attribute a validation error to the override that set the key, if one did."""
    for key, _, flag in reversed(overrides):
        if error.key and (error.key == key or error.key.startswith(key + ".")):
            return InputError(f"{flag} (applied to {path})", error.key, error.problem, error.fix)
    return error


def read_sourced(
    path: Path, facts: dict[str, Fact], facts_path: Path | None, chain: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[str, Provenance]]:
    """Read a config and the file it includes, returning plain values and their provenance.

    `include = "other.toml"` (relative to the file) brings in a shared base; the file's own
    values win, tables merge key by key, and lists replace the base's list whole.
    """
    raw = read_toml(path)
    include = raw.pop(INCLUDE_KEY, None)
    provenance: dict[str, Provenance] = {}
    plain = strip_provenance(raw, "", None, provenance, str(path))
    check_fact_ids(provenance, facts, str(path), facts_path)
    if include is None:
        return plain, provenance
    if not isinstance(include, str):
        raise InputError(str(path), INCLUDE_KEY, "include must be a file name in quotes.",
                         'write `include = "../common/world.toml"`.')
    if "\x00" in include:
        raise InputError(str(path), INCLUDE_KEY, "the file name holds a NUL character.", "give a plain file name.")
    base_path = include_path(path, include)
    if base_path in chain or len(chain) > 8:
        raise InputError(str(path), INCLUDE_KEY, "the includes form a loop.",
                         "make the shared file stop including the files that include it.")
    if not base_path.is_file():
        raise InputError(str(path), INCLUDE_KEY, f"the included file {base_path} does not exist.",
                         "give a path relative to this config's folder, or the name of a shipped base "
                         '(`include = "world"`; `residency list` shows them).')
    base, base_provenance = read_sourced(base_path, facts, facts_path, (*chain, path.resolve()))
    replaced = replaced_paths(plain)
    merged_provenance = {  # a base leaf the file replaces, or turns into a table, loses its source
        key: prov for key, prov in base_provenance.items()
        if not any(key == p or key.startswith(p + ".") or p.startswith(key + ".") for p in replaced)
    }
    merged_provenance.update(provenance)
    return deep_merge(base, plain), merged_provenance


def include_path(path: Path, include: str) -> Path:
    """Resolve an include: a file beside the config, else a shipped config by name (`"world"`)."""
    if "\x00" in include:
        raise InputError(str(path), INCLUDE_KEY, "the file name holds a NUL character.", "give a plain file name.")
    beside = (path.parent / include).resolve()
    if beside.is_file():
        return beside
    shipped = shipped_config(include)
    return shipped.resolve() if shipped is not None else beside


def replaced_paths(node: Any, prefix: str = "") -> list[str]:
    """Return the paths an overlay replaces outright: its leaves and its lists."""
    if isinstance(node, dict):
        paths: list[str] = []
        for key, value in node.items():
            paths += replaced_paths(value, join(prefix, key))
        return paths
    return [prefix]


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Merge tables key by key; any other overlay value replaces the base's."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_validated(path: Path, root: type[Model]) -> Model:
    """Read a TOML file and validate it as `root` (a lever, sweep, lesson or observations file)."""
    return validated(root, read_toml(path), str(path))


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning a missing file or bad syntax into an InputError."""
    check_regular_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), None, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}).",
                         "save the config as UTF-8 text.") from None
    except FileNotFoundError:
        raise InputError(
            str(path), None, "the file does not exist.",
            "check the path (shipped configs live in configs/arrangements/).",
        ) from None
    except OSError as exc:
        raise InputError(str(path), None, f"the file cannot be read ({exc.strerror}).",
                         "check the path and its permissions.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            str(path), None, f"the file is not valid TOML ({exc}).",
            "correct the syntax at that line: strings need quotes, tables need [brackets].",
        ) from None


def check_regular_file(path: Path) -> None:
    """Refuse anything but a regular file under MAX_CONFIG_BYTES (FIFOs, devices, folders, huge files)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(str(path), None, "the file does not exist.",
                         "check the path (shipped configs live in configs/arrangements/).") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(repr(str(path)), None, f"the file cannot be read ({reason}).",
                         "check the path and its permissions.") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(str(path), None, "this is a folder, not a config file.", "give the path of a .toml file.")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(str(path), None, "this is not a regular file (a pipe, socket or device).",
                         "give the path of a .toml file saved on disk.")
    if info.st_size > MAX_CONFIG_BYTES:
        raise InputError(str(path), None, f"the file is {info.st_size:,} bytes; a config holds at most "
                         f"{MAX_CONFIG_BYTES:,}.", "give a config file, not a data file.")


def is_unsourced(key: str) -> bool:
    """Return True for keys that describe or display rather than parameterise (no provenance needed)."""
    return key in UNSOURCED_KEYS or key.rsplit(".", 1)[-1] in DISPLAY_KEYS or key.startswith("places.")


def is_sourced_leaf(node: dict[str, Any]) -> bool:
    """Return True for `{value = ..., fact = "id"}` or `{value = ..., assume = "why"}`."""
    return "value" in node and set(node) <= SOURCED_LEAF_KEYS and ("fact" in node or "assume" in node)


def strip_provenance(
    node: Any, key: str, inherited: Provenance | None, out: dict[str, Provenance], source: str
) -> Any:
    """Return `node` without provenance annotations, recording each leaf's source in `out`."""
    if isinstance(node, dict):
        if is_sourced_leaf(node):
            prov = parse_provenance(node, key, source)
            spread = parse_spread(node, key, source, prov.own_cite())
            out[key] = Provenance(prov.kind, prov.detail, spread) if spread else prov
            return node["value"]
        own = node.get(PROVENANCE_KEY)
        if own is not None:
            inherited = parse_provenance(own, join(key, PROVENANCE_KEY), source)
        return {
            k: strip_provenance(v, join(key, k), inherited, out, source)
            for k, v in node.items() if k != PROVENANCE_KEY
        }
    if isinstance(node, list) and any(isinstance(item, dict) for item in node):
        return [strip_provenance(v, join(key, str(i)), inherited, out, source)
                for i, v in enumerate(node)]
    if inherited is None and not is_unsourced(key):
        raise InputError(
            source, key, "this parameter does not say where its value comes from.",
            f'write it as `{key.rsplit(".", 1)[-1]} = {{ value = ..., fact = "<id in seeds/facts.toml>" }}` '
            'or `{ value = ..., assume = "<one-line reason>" }`, or give its table a '
            '`provenance = { fact = "..." }` line.',
        )
    if inherited is not None:
        out[key] = inherited
    return node


def parse_provenance(node: Any, key: str, source: str) -> Provenance:
    """Turn a `{fact = ...}` or `{assume = ...}` table into a Provenance."""
    if isinstance(node, dict):
        fact, assume = node.get("fact"), node.get("assume")
        if isinstance(fact, list) and fact and all(isinstance(f, str) for f in fact):
            fact = ",".join(fact)
        if isinstance(fact, str) and fact.strip() and assume is None:
            return Provenance("fact", fact.strip())
        if isinstance(assume, str) and assume.strip() and fact is None:
            return Provenance("assume", assume.strip())
    raise InputError(
        source, key, "the provenance is malformed.",
        'give exactly one of `fact = "<id>"` (or a list of ids) and `assume = "<reason>"`, '
        "with a non-empty text.",
    )


def check_fact_ids(
    provenance: dict[str, Provenance], facts: dict[str, Fact], source: str, facts_path: Path | None
) -> None:
    """Fail on the first cited fact id that the fact base does not define."""
    for key, prov in provenance.items():
        if prov.kind != "fact":
            continue
        for fact_id in prov.detail.split(","):
            if fact_id in facts:
                continue
            where = str(facts_path) if facts_path else "seeds/facts.toml (not found)"
            raise InputError(
                source, key, f"it cites fact {fact_id!r}, which is not in {where}.",
                did_you_mean(fact_id, facts) or "cite an existing fact id (`residency facts` "
                "lists the cited ones) or add the fact to seeds/facts.toml with its source.",
            )


def settle_spreads(loaded: LoadedConfig) -> LoadedConfig:
    """Return the config with each range told whether the schema makes its parameter a whole number."""
    if not loaded.ranges:
        return loaded
    data = loaded.config.model_dump()
    provenance = dict(loaded.provenance)
    for key, interval in loaded.ranges.items():
        node = get_path(data, key)
        whole = isinstance(node, int) and not isinstance(node, bool)
        provenance[key] = dataclasses.replace(provenance[key], spread=dataclasses.replace(interval, integer=whole))
    return dataclasses.replace(loaded, provenance=provenance)


def _copied_along(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Return `data` with every dict and list on `key`'s dotted path copied, the rest shared.

    Setting `key` in the copy leaves `data` as it was (validation reads its input, never writes it),
    at the cost of the path rather than of the whole config; a tuple on the path (which cannot
    take a copied child) falls back to a deep copy.
    """
    top: dict[str, Any] = dict(data)
    node: Any = top
    for part in key.split(".")[:-1]:
        index: Any = int(part) if isinstance(node, list) and part.isdigit() else part
        if (isinstance(node, dict) and index in node) or (isinstance(node, list) and isinstance(index, int) \
                and index < len(node)):
            child = node[index]
        else:
            return top  # set_path reports the unknown path
        if isinstance(child, dict):
            child = dict(child)
        elif isinstance(child, list):
            child = list(child)
        elif isinstance(child, tuple):
            return copy.deepcopy(data)
        else:
            return top
        node[index] = child
        node = child
    return top


def check_spreads(loaded: LoadedConfig) -> None:
    """Fail when either end of a range, or any alternative, breaks the schema."""
    ends: list[tuple[str, Any, Range | Alternatives]] = []
    for key, interval in loaded.ranges.items():
        ends += [(key, interval.at(0.0), interval), (key, interval.at(1.0), interval)]
    for key, choices in loaded.alternatives.items():
        ends += [(key, choice, choices) for choice in choices.choices]
    base = loaded.config.model_dump()
    for key, value, spread in ends:
        data = _copied_along(base, key)
        set_path(data, key, value, spread.source)
        try:
            Config.model_validate(data)
        except ValidationError as exc:
            error = error_from_pydantic(exc, spread.source)
            raise InputError(spread.source, key, f"the plausible value {value!r} breaks the schema: "
                             f"{error.problem}", "narrow the range (or drop that alternative) so that "
                             "every value in it is valid.") from None


def validate(data: dict[str, Any], source: str) -> Config:
    """Validate plain data against the schema, turning the first error into an InputError."""
    return validated(Config, data, source)


def toml_literal(value: Any) -> str:
    """Write a value as a TOML literal, the form `parse_value` (and `--set`) reads back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_literal(v)}" for k, v in value.items()) + " }"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value)


def parse_value(text: str) -> Any:
    """Parse an override's value as a TOML value, falling back to a plain string.

    A value that opens a string, a list or a table (a quote, `[` or `{`) must be valid TOML: an
    unclosed quote is a mistake, not text that happens to start with a quote.

    Raises:
        ValueError: The value opens a quote, list or table and is not valid TOML.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as exc:
        if text.lstrip()[:1] in ("\"", "'", "[", "{"):
            raise ValueError(str(exc).split(" (at ")[0].lower()) from None
        return text
