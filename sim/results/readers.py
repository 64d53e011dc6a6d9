"""Readers of result folders, beside their writers: JSON documents, CSV tables and paired differences."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from sim.errors import InputError


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from a results file, or fail with what to do."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(str(path), None, f"the file cannot be read as JSON ({exc}).",
                         "rerun the command that wrote it.") from None
    if not isinstance(value, dict):
        raise InputError(str(path), None, "the file does not hold a JSON object.", "rerun the command that wrote it.")
    return value


def flatten_leaves(node: dict[str, Any], prefix: str,
                    out: dict[str, tuple[float | None, float | None, float | None]]) -> None:
    """Collect the (mean, low, high) of every estimate in a summary document under its dotted path."""
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if key == "run":
            continue
        if isinstance(value, dict) and "mean" in value and "ci95" in value:
            ci = value["ci95"]
            out[path] = (value["mean"], ci[0] if ci else None, ci[1] if ci else None)
        elif isinstance(value, dict):
            flatten_leaves(value, path, out)


def read_csv(path: Path) -> list[dict[str, str]]:
    """Read a CSV table as rows keyed by its header."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def csv_number(text: str) -> float:
    """Return a CSV cell as a number, an empty cell as NaN."""
    return math.nan if text == "" else float(text)


def read_columns(path: Path) -> dict[str, list[float]]:
    """Read a replications table as one column of numbers per metric."""
    rows = read_csv(path)
    return {key: [csv_number(r[key]) for r in rows] for key in (rows[0] if rows else {}) if key != "replication"}


def paired_differences(path: Path) -> dict[str, tuple[float | None, float | None, float | None]]:
    """Read each scenario's paired difference in residual access from the baseline, with its interval."""
    out: dict[str, tuple[float | None, float | None, float | None]] = {}
    for row in read_csv(path):
        if row["metric"] == "residual_access.events" and row["diff_vs_baseline"] != "":
            out[row["scenario"]] = (float(row["diff_vs_baseline"]), _opt(row["diff_ci95_low"]),
                                    _opt(row["diff_ci95_high"]))
    return out


def _opt(text: str) -> float | None:
    return None if text == "" else float(text)
