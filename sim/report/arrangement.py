"""Figure data of one arrangement, from its result folder or straight from an in-memory result."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from sim.config.schema import Config, display
from sim.errors import InputError
from sim.metrics.recorder import hist_edges
from sim.metrics.stats import support_estimate
from sim.model.slow.holdings import deletion_days
from sim.report import figures as plots
from sim.results.readers import csv_number, flatten_leaves, read_columns, read_csv, read_json
from sim.results.runs import estimates
from sim.results.scenario import ScenarioResult


def load_arrangement(folder: Path) -> tuple[plots.Arrangement, dict[str, Any]]:
    """Read one arrangement's files into figure data, with its resolved-config document."""
    for name in ("summary.json", "daily.csv", "replications.csv", "wait_histogram.csv", "resolved_config.json"):
        if not (folder / name).is_file():
            raise InputError(str(folder / name), None, "a results file is missing (results of an older format?).",
                             "rerun the command in the folder's manifest.json, then report again.")
    summary = read_json(folder / "summary.json")
    resolved = read_json(folder / "resolved_config.json")
    metrics: dict[str, tuple[float | None, float | None, float | None]] = {}
    flatten_leaves(summary, "", metrics)
    if "residual_access.events" not in metrics:
        raise InputError(str(folder / "summary.json"), "residual_access.events", "the summary holds no metrics "
                         "(it is damaged or of another format).", "rerun the command in the folder's manifest.json.")
    config = resolved["config"]
    arrangement = plots.Arrangement(
        name=config["scenario"]["name"], title=config["scenario"]["title"], metrics=metrics,
        display=config["scenario"].get("display", ""), colour=config["scenario"].get("colour", ""),
        replications=read_columns(folder / "replications.csv"),
        daily=_read_daily(folder / "daily.csv"),
        wait_histogram=[(float(r["wait_hours_low"]), float(r["wait_hours_high"]), int(r["count"]))
                        for r in read_csv(folder / "wait_histogram.csv")],
        milestones=milestones(Config.model_validate(config)),
        config=config,
    )
    return arrangement, resolved


def _read_daily(path: Path) -> dict[str, plots.Series]:
    rows = read_csv(path)
    if not rows:
        return {}
    dates = [dt.date.fromisoformat(r["date"]) for r in rows]
    columns = [k[:-5] for k in rows[0] if k.endswith("_mean")]
    series = {}
    for column in columns:
        mean = [csv_number(r[f"{column}_mean"]) for r in rows]
        low = [csv_number(r[f"{column}_ci95_low"]) if r[f"{column}_ci95_low"] else m
               for r, m in zip(rows, mean, strict=True)]
        high = [csv_number(r[f"{column}_ci95_high"]) if r[f"{column}_ci95_high"] else m
                for r, m in zip(rows, mean, strict=True)]
        series[column] = plots.Series(dates, mean, low, high)
    return series


def arrangement_from_result(result: ScenarioResult, name: str | None = None) -> plots.Arrangement:
    """Build figure data straight from an in-memory result (no files needed)."""
    config = result.loaded.config
    metrics = {k: (v.mean, v.low, v.high) for k, v in estimates(result).items()}
    dates = [config.scenario.start_date + dt.timedelta(days=d) for d in range(config.scenario.days)]
    daily = {}
    for column in result.replications[0].daily:
        cells = [support_estimate([rep.daily[column][d] for rep in result.replications]) for d in range(len(dates))]
        mean = [math.nan if c.mean is None else c.mean for c in cells]
        daily[column] = plots.Series(dates, mean, [m if c.low is None else c.low for c, m in zip(cells, mean,
                                                                                                strict=True)],
                                     [m if c.high is None else c.high for c, m in zip(cells, mean, strict=True)])
    pooled: dict[int, int] = {}
    for rep in result.replications:
        for index, count in rep.wait_histogram.items():
            pooled[index] = pooled.get(index, 0) + count
    histogram = [(*hist_edges(i), pooled[i]) for i in sorted(pooled)]
    return plots.Arrangement(
        name=name or config.scenario.name, title=config.scenario.title, metrics=metrics,
        display=name or config.scenario.display, colour="" if name else config.scenario.colour,
        replications={k: [rep.metrics[k] for rep in result.replications] for k in result.replications[0].metrics},
        daily=daily, wait_histogram=histogram, milestones=milestones(config),
        config=config.model_dump(mode="json"))


def milestones(config: Config) -> list[tuple[dt.date, str]]:
    """Return the dated events of an arrangement's timeline that fall inside its horizon."""
    start = config.scenario.start_date
    end = start + dt.timedelta(days=config.scenario.days)
    events: list[tuple[dt.date, str]] = []
    def site(key: str) -> str:
        return display(key, config.sites[key].title) if key in config.sites else display(key)

    for m in config.migrations:
        events.append((m.start, f"move to {site(m.target)} starts"))
        events.append((m.start + dt.timedelta(days=m.duration_days), f"move to {site(m.target)} done"))
    for r in config.replication:
        if r.until is not None:
            events.append((r.until, f"copies to {site(r.target)} stop"))
    for d in config.deletions:
        events.append((d.start, f"deletion at {site(d.site)} starts"))
        events.append((d.start + dt.timedelta(days=deletion_days(d)), f"deletion at {site(d.site)} ends"))
    return sorted({e for e in events if start <= e[0] < end})
