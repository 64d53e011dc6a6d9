"""Summaries of replicated results: the JSON document, the daily table and the files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.config.checks import parameter_sources
from sim.config.loader import LoadedConfig
from sim.errors import InputError
from sim.metrics import catalogue
from sim.metrics.recorder import DAILY_COLUMNS, hist_edges
from sim.metrics.stats import Estimate, paired_difference, support_estimate
from sim.results.atomic import FileBatch, check_name, clean_stale, digest, inside, write_atomic
from sim.results.scenario import ScenarioResult
from sim.version import __version__


def metric_names(result: ScenarioResult) -> list[str]:
    """Return the flat metric paths of a result, in the order the model reports them."""
    return list(result.replications[0].metrics) if result.replications else []


def estimates(result: ScenarioResult) -> dict[str, Estimate]:
    """Return the estimate of every metric over the replications, its interval inside the metric's support.

    Counts, hours and records never get an interval below zero, nor shares one outside [0, 1]
    (see `support_estimate`: Student's t on the log or logit scale of the mean).
    """
    return {
        name: support_estimate([rep.metrics[name] for rep in result.replications],
                               upper=1.0 if catalogue.kind_of(name) == "share" else None)
        for name in metric_names(result)
    }


def run_info(result: ScenarioResult) -> dict[str, Any]:
    """Return what produced a result: config, seed, replications, version and overrides."""
    loaded = result.loaded
    scenario = loaded.config.scenario
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "config_file": portable_path(loaded.path),
        "seed": result.seed,
        "replications": len(result.replications),
        "days": scenario.days,
        "start_date": scenario.start_date.isoformat(),
        "version": __version__,
        "overrides": list(loaded.overrides),
    }


def summary_document(result: ScenarioResult) -> dict[str, Any]:
    """Return the nested JSON document: `run`, then every metric as {mean, ci95}."""
    document: dict[str, Any] = {"run": run_info(result)}
    for name, value in estimates(result).items():
        node = document
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value.as_leaf()
    return document


def to_json(document: dict[str, Any]) -> str:
    """Serialise a document deterministically (same input, same bytes)."""
    return json.dumps(_finite(document), indent=2, ensure_ascii=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def daily_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    """Return the per-day rows: day, date, then each column's mean, ci95_low and ci95_high."""
    start = result.loaded.config.scenario.start_date
    rows = []
    for day in range(result.loaded.config.scenario.days):
        row: dict[str, Any] = {"day": day, "date": (start + dt.timedelta(days=day)).isoformat()}
        for column in DAILY_COLUMNS:
            value = support_estimate([rep.daily[column][day] for rep in result.replications])
            row.update({f"{column}_mean": value.mean, f"{column}_ci95_low": value.low,
                        f"{column}_ci95_high": value.high})
        rows.append(row)
    return rows


def daily_csv(result: ScenarioResult) -> str:
    """Return the per-day table: each column's mean and 95% interval across replications."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rows = daily_rows(result)
    writer.writerow(list(rows[0]) if rows else ["day", "date"])
    for row in rows:
        writer.writerow([_fmt(v) if isinstance(v, float) or v is None else v for v in row.values()])
    return out.getvalue()


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(round(value, 6))


def resolved_document(result: ScenarioResult) -> dict[str, Any]:
    """Return the resolved config with the provenance of each parameter, seed and version."""
    loaded = result.loaded
    return {
        "run": run_info(result),
        "config": loaded.config.model_dump(mode="json"),
        "provenance": provenance_document(loaded),
    }


def provenance_document(loaded: LoadedConfig) -> dict[str, str]:
    """Return every parameter's source: the sourced keys as the file gave them, then every other leaf the run uses.

    A sourced table value (such as an actor group's `hours`) keeps its own key and its leaves are
    listed too; a parameter the file leaves out is marked `schema default`.
    """
    sources = {key: prov.describe(loaded.facts) for key, prov in loaded.provenance.items()}
    sources.update({key: source for key, source in parameter_sources(loaded).items() if key not in sources})
    return dict(sorted(sources.items()))


def replications_csv(result: ScenarioResult) -> str:
    """Return one row per replication with every metric (for exceedance curves and reuse)."""
    out = io.StringIO()
    names = metric_names(result)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["replication", *names])
    for index, rep in enumerate(result.replications):
        writer.writerow([index, *(_fmt(rep.metrics[n]) for n in names)])
    return out.getvalue()


def wait_histogram_csv(result: ScenarioResult) -> str:
    """Return the gate's wait histogram pooled over replications: bin edges in hours and counts."""
    pooled: dict[int, int] = {}
    for rep in result.replications:
        for index, count in rep.wait_histogram.items():
            pooled[index] = pooled.get(index, 0) + count
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["wait_hours_low", "wait_hours_high", "count"])
    for index in sorted(pooled):
        low, high = hist_edges(index)
        writer.writerow([repr(low), repr(high), pooled[index]])
    return out.getvalue()


def run_files(result: ScenarioResult) -> dict[str, str]:
    """Return the files of one result by name: summary, daily, replications, waits, resolved config."""
    return {
        "summary.json": to_json(summary_document(result)),
        "daily.csv": daily_csv(result),
        "replications.csv": replications_csv(result),
        "wait_histogram.csv": wait_histogram_csv(result),
        "resolved_config.json": to_json(resolved_document(result)),
    }


def portable_path(path: Path) -> str:
    """Return a path as given when relative, else relative to the working folder (no absolute paths in outputs)."""
    if not path.is_absolute():
        return str(path)
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return path.name


def comparison_rows(
    results: Sequence[ScenarioResult], baseline: ScenarioResult | None
) -> list[dict[str, Any]]:
    """Return one row per (arrangement, metric) with its interval and paired difference.

    The arrangement column is `arrangement`, as in the API's tables and the results database;
    `scenario`, its former name, follows as the last column with the same values.
    """
    rows = []
    for result in results:
        for name, value in estimates(result).items():
            row: dict[str, Any] = {
                "arrangement": result.loaded.name, "metric": name,
                "mean": value.mean, "ci95_low": value.low, "ci95_high": value.high,
                "diff_vs_baseline": None, "diff_ci95_low": None, "diff_ci95_high": None,
            }
            # Metrics named after a site exist only where that site does: no pairing elsewhere.
            if baseline is not None and baseline is not result and name in baseline.replications[0].metrics:
                diff = paired_difference([r.metrics[name] for r in result.replications],
                                         [r.metrics[name] for r in baseline.replications])
                row.update(diff_vs_baseline=diff.mean, diff_ci95_low=diff.low,
                           diff_ci95_high=diff.high)
            row["scenario"] = row["arrangement"]  # the column's former name, kept for scripts that read it
            rows.append(row)
    return rows


def comparison_csv(rows: list[dict[str, Any]]) -> str:
    """Return the combined comparison table as CSV."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (_fmt(v) if isinstance(v, float) else
                                 ("" if v is None else v)) for k, v in row.items()})
    return out.getvalue()


SENSITIVITY_COLUMNS = ["method", "arrangement", "output", "factor", "measure", "value", "ci95_low", "ci95_high"]


def sensitivity_records(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Return stored (method, arrangement, output, factor, measure, value, conf) rows with interval columns.

    The stored `conf` is the half-width of the 95% interval (SALib's bootstrap), so the interval
    is value ± conf; sigma of a Morris design has none.
    """
    records = []
    for method, arrangement, output, factor, measure, value, conf in rows:
        low = None if conf is None or value is None else value - conf
        high = None if conf is None or value is None else value + conf
        records.append(dict(zip(SENSITIVITY_COLUMNS, (method, arrangement, output, factor, measure, value, low,
                                                      high), strict=True)))
    return records


MANIFEST = "manifest.json"
MANIFEST_FORMAT = "residency-results/1"


def write_manifest(folder: Path, kind: str, command: str, names: Sequence[str], baseline: str | None,
                   seed: int, replications: int, engine: Mapping[str, str] | None = None) -> Path:
    """Write the folder's manifest: what it holds, how it was made, and in which format."""
    return write_atomic(folder / MANIFEST, manifest_text(kind, command, names, baseline, seed, replications, None,
                                                         engine))


def manifest_text(kind: str, command: str, names: Sequence[str], baseline: str | None, seed: int,
                  replications: int, files: dict[str, str] | None, engine: Mapping[str, str] | None = None) -> str:
    """Return a manifest document; `files` maps each file it vouches for to its SHA-256.

    `engine` records the engine that ran the results (`engine`, and `engine_reason` where the
    fast engine handed a config to the event engine).
    """
    document: dict[str, Any] = {
        "format": MANIFEST_FORMAT, "kind": kind, "command": command, "arrangements": list(names),
        "baseline": baseline, "seed": seed, "replications": replications, "version": __version__}
    if engine is not None:
        document.update(engine)
    if files is not None:
        document["files"] = files
    return to_json(document)


def write_results(folder: Path, kind: str, command: str, results: Sequence[ScenarioResult],
                  baseline: ScenarioResult | None, seed: int, engine: Mapping[str, str] | None = None) -> list[Path]:
    """Write a run's or a comparison's files so that a kill leaves the old set or the new one, never a mix.

    Every file is staged under a temporary name first (the old files stay whole meanwhile), then
    the old manifest goes, the files are renamed in, and the new manifest, holding every file's
    hash, is written last: readers check the files against it (`check_manifest_files`).
    """
    clean_stale(folder)
    batch = FileBatch(folder)
    try:  # a stop while staging leaves the folder as it was: the staged files (and folders made for them) go
        for result in results:
            prefix = "" if kind == "run" else check_name(result.loaded.name, str(result.loaded.path),
                                                         "scenario.name") + "/"
            if prefix:
                clean_stale(folder / result.loaded.name)
            for name, text in run_files(result).items():
                batch.add(prefix + name, text)
        if kind != "run":
            batch.add("comparison.csv", comparison_csv(comparison_rows(results, baseline)))
        text = manifest_text(kind, command, [r.loaded.name for r in results],
                             baseline.loaded.name if baseline else None, seed, len(results[0].replications),
                             batch.hashes(), engine)
    except BaseException:
        batch.abort()
        raise
    return batch.commit(folder / MANIFEST, text)


def check_manifest_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a folder whose files do not all match the hashes its manifest recorded."""
    files = manifest.get("files")
    if files is None:
        return  # a manifest without hashes (attribute, sweeps): nothing to check
    if not isinstance(files, dict):
        raise InputError(str(folder / MANIFEST), "files", "the list of files is damaged.",
                         "rerun the command that made this folder.")
    for name, expected in sorted(files.items()):
        path = inside(folder, *str(name).split("/"))
        try:
            actual = digest(path.read_bytes())
        except OSError:
            actual = None
        if actual != expected:
            state = ("is missing" if actual is None else
                     "does not match the manifest (it was changed since, or a later run was killed while writing)")
            raise InputError(str(path), None, f"the file {state}; the folder is not one complete output.",
                             "rerun the command in the manifest (`command`), with --out on this folder.")
