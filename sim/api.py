"""The Python API for notebooks and scripts: load, run, compare, sweep and attribute, as DataFrames.

Every function takes the same options as the command of the same name and returns an object
whose tables are pandas DataFrames in the one output vocabulary: a metric's `mean` with its 95%
interval in `ci95_low` and `ci95_high`, replications numbered from 0 (the random streams' index).

Where replications run: in a plain script (a `__main__` module with a file) they run in this
process unless `workers` is given, so a script needs no `if __name__ == "__main__":` guard; in a
notebook or an interactive session they run on a pool of spawned processes, one per core. With
`workers=N` a script must guard its top level, as any program that spawns processes must.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.config.loader import LoadedConfig, load_config, toml_literal, with_overrides
from sim.config.resources import resolve_named
from sim.design_api import DesignResult, run_api_design
from sim.errors import InputError
from sim.experiment.executors import LocalExecutor, default_workers, make_executor
from sim.experiment.replications import run_scenarios
from sim.experiment.usecases import plan_compare, run_compare
from sim.metrics.stats import paired_difference
from sim.model.batched.fast import ENGINES, Engine
from sim.results.runs import SENSITIVITY_COLUMNS, daily_rows, estimates, sensitivity_records
from sim.results.scenario import ScenarioResult

if TYPE_CHECKING:
    from sim.report.figures import Arrangement

__all__ = ["AttributionResult", "Comparison", "DesignResult", "RunResult", "SweepResult", "attribute", "compare",
           "design", "load", "run", "sweep"]

ConfigLike = LoadedConfig | str | Path
INTERVAL = ["mean", "ci95_low", "ci95_high"]


def load(name_or_path: ConfigLike, *, overrides: Mapping[str, Any] | None = None) -> LoadedConfig:
    """Load a shipped arrangement by name (`"oracle"`) or a config file by path, with optional overrides."""
    if isinstance(name_or_path, LoadedConfig):
        return with_overrides(name_or_path, _overrides(overrides))
    return load_config(resolve_named(name_or_path, "config"), _overrides(overrides))


def run(
    config: ConfigLike, *, seed: int | None = None, replications: int | None = None, days: int | None = None,
    overrides: Mapping[str, Any] | None = None, workers: int | None = None, engine: Engine = "fast",
) -> RunResult:
    """Run one config's replications and return its summary, daily series and replications.

    `engine` is "fast" (the default) or "event": both give the same results to the bit.
    """
    loaded = _load_with_run_settings(config, overrides, seed, replications, days)
    scenario = loaded.config.scenario
    [result] = run_scenarios([loaded], scenario.seed, scenario.replications,
                             executor=LocalExecutor(_workers(workers), _engine(engine)))
    return RunResult(result)


def compare(
    configs: Iterable[ConfigLike], *, seed: int | None = None, replications: int | None = None,
    days: int | None = None, baseline: str | None = None, overrides: Mapping[str, Any] | None = None,
    workers: int | None = None, engine: Engine = "fast",
) -> Comparison:
    """Run configs under common random numbers; differences are paired with the baseline.

    `configs` may mix loaded configs, shipped names and paths. The baseline defaults to
    `status_quo` when it is among them, else the first config.
    """
    loaded = [_load_with_run_settings(c, overrides, seed, replications, days) for c in configs]
    plan = plan_compare(loaded, baseline, seed, replications)
    results = run_compare(plan, LocalExecutor(_workers(workers), _engine(engine)))
    return Comparison([RunResult(r) for r in results], plan.baseline)


def sweep(
    sweep_file: str | Path, *, out: str | Path | None = None, seed: int | None = None,
    replications: int | None = None, days: int | None = None, overrides: Mapping[str, Any] | None = None,
    workers: int | None = None, scheduler: str | None = None, engine: Engine = "fast",
) -> SweepResult:
    """Run (or resume) a sweep file into a results database in the folder `out`, and return its tables.

    `sweep_file` is a path or a shipped sweep's name (`"oracle_stewards"`). `out` is required:
    the API writes nowhere the call does not name. `seed`, `replications` and `days` replace
    the sweep file's own, as the command's --seed, -r and --days do.
    """
    from sim.experiment.sweep import run_sweep
    from sim.experiment.sweep_file import load_sweep
    from sim.results.store import Store

    folder = _out_folder(out, "sweep", f"reports/sweeps/{Path(str(sweep_file)).stem}")
    path = resolve_named(sweep_file, "sweep", "sweep_file")
    settings = {**(overrides or {}), **({"scenario.days": days} if days is not None else {})}
    loaded = load_sweep(path, tuple(_overrides(settings)), seed=_count("seed", seed, 0),
                        replications=_count("replications", replications))
    executor = make_executor(_workers(workers), scheduler, _engine(engine))
    store = Store(folder)
    try:
        run_sweep(loaded, store, executor)
    finally:
        executor.close()
        store.close()
    return SweepResult(folder)


def attribute(
    config: ConfigLike, *, seed: int | None = None, replications: int | None = None, days: int | None = None,
    overrides: Mapping[str, Any] | None = None, metric: str = "residual_access.events",
    workers: int | None = None, engine: Engine = "fast",
) -> AttributionResult:
    """Switch each control off in turn (and all at once) and return what each one prevents."""
    from sim.experiment.attribution import attribute as run_attribution

    loaded = _load_with_run_settings(config, overrides, seed, replications, days)
    scenario = loaded.config.scenario
    try:
        base, rows, _ = run_attribution(loaded, scenario.seed, scenario.replications,
                                        LocalExecutor(_workers(workers), _engine(engine)), metric)
    except KeyError:
        raise InputError("metric", metric, "this is not a metric the model reports.",
                         "use a path from `sim.run(...).summary.metric`, such as residual_access.events.") from None
    records = [{"control": "as_configured", "meaning": "", "with_control_off": base.mean,
                "with_control_off_ci95_low": base.low, "with_control_off_ci95_high": base.high,
                "mean": None, "ci95_low": None, "ci95_high": None, "share_of_all_off": None}]
    for row in rows:
        off, rise = row.with_control_off, row.contribution
        records.append({"control": row.control, "meaning": row.meaning, "with_control_off": off.mean,
                        "with_control_off_ci95_low": off.low, "with_control_off_ci95_high": off.high,
                        "mean": rise.mean, "ci95_low": rise.low, "ci95_high": rise.high,
                        "share_of_all_off": row.share_of_total})
    return AttributionResult(loaded.name, metric, _numeric(pd.DataFrame.from_records(records)))


@dataclass(frozen=True)
class RunResult:
    """One config's replications: `summary`, `daily` and `replications` as DataFrames."""

    result: ScenarioResult

    def __repr__(self) -> str:
        """Return a one-line description (the results themselves are in the tables)."""
        scenario = self.result.loaded.config.scenario
        return (f"<RunResult {self.name}: {len(self.result.replications)} replications of {scenario.days} days, "
                f"seed {self.result.seed}; tables: summary, daily, replications>")

    @property
    def name(self) -> str:
        """Return the scenario's name."""
        return self.result.loaded.name

    @property
    def loaded(self) -> LoadedConfig:
        """Return the loaded config that was run."""
        return self.result.loaded

    @property
    def summary(self) -> pd.DataFrame:
        """Return one row per metric: metric, mean, ci95_low, ci95_high."""
        rows = [{"metric": name, "mean": v.mean, "ci95_low": v.low, "ci95_high": v.high}
                for name, v in estimates(self.result).items()]
        return _numeric(pd.DataFrame.from_records(rows, columns=["metric", *INTERVAL]))

    @property
    def daily(self) -> pd.DataFrame:
        """Return the daily series: day, date, then each column's mean, ci95_low and ci95_high."""
        frame = _numeric(pd.DataFrame.from_records(daily_rows(self.result)))
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    @property
    def replications(self) -> pd.DataFrame:
        """Return one row per replication (numbered from 0) with every metric."""
        rows = [{"replication": i, **rep.metrics} for i, rep in enumerate(self.result.replications)]
        return _numeric(pd.DataFrame.from_records(rows))

    def figure_data(self) -> list[Arrangement]:
        """Return the data the figure functions draw (sim.report.figures)."""
        from sim.report.arrangement import arrangement_from_result

        return [arrangement_from_result(self.result)]


@dataclass(frozen=True)
class Comparison:
    """Several configs under common random numbers, with paired differences from the baseline."""

    runs: list[RunResult]
    baseline: str

    def __repr__(self) -> str:
        """Return a one-line description (the results themselves are in the tables)."""
        first = self.runs[0].result
        return (f"<Comparison of {', '.join(self.names)} (baseline {self.baseline}): "
                f"{len(first.replications)} replications of {first.loaded.config.scenario.days} days, seed "
                f"{first.seed}; tables: summary, differences, daily, replications>")

    def __getitem__(self, name: str) -> RunResult:
        """Return one arrangement's run by its scenario name."""
        for item in self.runs:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """Return the compared scenarios' names, the baseline first."""
        return [item.name for item in self.runs]

    @property
    def summary(self) -> pd.DataFrame:
        """Return one row per (arrangement, metric): arrangement, metric, mean, ci95_low, ci95_high."""
        return _stack({item.name: item.summary for item in self.runs})

    @property
    def daily(self) -> pd.DataFrame:
        """Return every arrangement's daily series, with an arrangement column."""
        return _stack({item.name: item.daily for item in self.runs})

    @property
    def replications(self) -> pd.DataFrame:
        """Return one row per (arrangement, replication) with every metric."""
        return _stack({item.name: item.replications for item in self.runs})

    @property
    def differences(self) -> pd.DataFrame:
        """Return paired differences from the baseline: arrangement, baseline, metric, mean, ci95_low, ci95_high."""
        return _numeric(pd.DataFrame.from_records(difference_rows(self), columns=["arrangement", "baseline",
                                                                                   "metric", *INTERVAL]))

    def figure_data(self) -> list[Arrangement]:
        """Return the data the figure functions draw, one entry per arrangement (baseline first)."""
        return [data for item in self.runs for data in item.figure_data()]


def difference_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Return the paired difference of every metric of every arrangement from the baseline."""
    base = comparison[comparison.baseline].result
    rows = []
    for item in comparison.runs:
        if item.name == comparison.baseline:
            continue
        for name in estimates(item.result):
            if name not in base.replications[0].metrics:  # such as an unrouted pair's count, which only one has
                continue
            diff = paired_difference([r.metrics[name] for r in item.result.replications],
                                     [r.metrics[name] for r in base.replications])
            rows.append({"arrangement": item.name, "baseline": comparison.baseline, "metric": name,
                         "mean": diff.mean, "ci95_low": diff.low, "ci95_high": diff.high})
    return rows


@dataclass(frozen=True)
class SweepResult:
    """A sweep's results database: `rows`, `summary` and `sensitivity` as DataFrames."""

    folder: Path

    def __repr__(self) -> str:
        """Return a one-line description (the rows are in the tables)."""
        return f"<SweepResult in {self.folder}; tables: rows, summary, sensitivity>"

    def _records(self, summary: bool) -> list[dict[str, Any]]:
        from sim.experiment.sweep import row_records, stored_outputs, summary_records
        from sim.results.store import Store

        store = Store(self.folder, create=False)
        try:
            return summary_records(store, stored_outputs(store)) if summary else row_records(store)
        finally:
            store.close()

    @property
    def rows(self) -> pd.DataFrame:
        """Return one row per (point, replication): point, arrangement, factors, replication, seed, metrics."""
        return _numeric(pd.DataFrame.from_records(self._records(summary=False)))

    @property
    def summary(self) -> pd.DataFrame:
        """Return one row per (point, output): point, arrangement, factors, replications, metric and interval."""
        records = []
        for record in self._records(summary=True):
            outputs = sorted({k.rsplit(".", 1)[0] for k in record if k.endswith(".mean")})
            fixed = {k: v for k, v in record.items() if not any(k.startswith(o + ".") for o in outputs)}
            for output in outputs:
                records.append({**fixed, "metric": output, **{c: record[f"{output}.{c}"] for c in INTERVAL}})
        return _numeric(pd.DataFrame.from_records(records))

    @property
    def sensitivity(self) -> pd.DataFrame:
        """Return the stored Sobol or Morris indices (empty for grid designs)."""
        from sim.results.store import Store

        store = Store(self.folder, create=False)
        try:
            rows = store.sensitivity()
        finally:
            store.close()
        return pd.DataFrame.from_records(sensitivity_records(rows), columns=SENSITIVITY_COLUMNS)


@dataclass(frozen=True)
class AttributionResult:
    """What each control prevents: `summary` has the paired rise in the metric when it is off."""

    arrangement: str
    metric: str
    summary: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        """Return a one-line description (the table is `summary`)."""
        return f"<AttributionResult of {self.arrangement} on {self.metric}; table: summary>"


def _stack(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-arrangement frames with an arrangement column first."""
    parts = [frame.assign(arrangement=name) for name, frame in frames.items()]
    stacked = pd.concat(parts, ignore_index=True)
    return stacked[["arrangement", *[c for c in stacked.columns if c != "arrangement"]]]


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Give every column that holds only numbers and gaps (None) a float dtype, so gaps are NaN, not objects."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(lambda v: v is None or isinstance(v, int | float)).all() \
                and not values.map(lambda v: isinstance(v, bool)).any():
            frame[column] = values.astype(float)
    return frame


def _out_folder(out: str | Path | None, call: str, example: str) -> Path:
    """Return the folder a writing call names, or refuse a call that names none."""
    if out is None:
        raise InputError(f"sim.{call}", "out", f"sim.{call} writes a results database, and the call names no "
                         "folder for it.", f"name one, as in sim.{call}(..., out=\"{example}\").")
    return Path(out).resolve()  # the result reads its tables from here, wherever the caller goes next


def _count(name: str, value: int | None, least: int = 1) -> int | None:
    """Return a count argument, refusing one below its least value."""
    if value is not None and value < least:
        raise InputError(name, str(value), f"{name} must be {least} or more.", f"give {name}={max(least, 1)} or more.")
    return value


def _overrides(overrides: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """Turn a mapping of dotted paths to values into the loader's (key, value, flag) overrides."""
    return [(key, toml_literal(value), "overrides") for key, value in (overrides or {}).items()]


def _load_with_run_settings(
    config: ConfigLike, overrides: Mapping[str, Any] | None, seed: int | None, replications: int | None,
    days: int | None,
) -> LoadedConfig:
    """Load a config and apply the overrides and the run settings, as the CLI's flags do."""
    settings = {"scenario.seed": seed, "scenario.replications": replications, "scenario.days": days}
    merged = {**(overrides or {}), **{k: v for k, v in settings.items() if v is not None}}
    if isinstance(config, LoadedConfig):
        return with_overrides(config, _overrides(merged))
    return load(config, overrides=merged)


def design(config: str | Path, levers: str | Path, *, workers: int | None = None, engine: Engine = "fast",
           **options: Any) -> DesignResult:
    """Search a lever file's terms across plausible worlds, as `residency design`; see sim.design_api.run_api_design.

    Options: worlds, replications, days, seed, trials, population, objectives, target, confidence,
    quantile, out, overrides, scheduler.
    """
    return run_api_design(config, levers, workers=_workers(workers), engine=_engine(engine), **options)


def _engine(engine: str) -> Engine:
    """Return a valid engine name, or refuse another one."""
    if engine not in ENGINES:
        raise InputError("engine", engine, "there is no such engine.", 'use engine="fast" (the default) or "event".')
    return "event" if engine == "event" else "fast"


def _workers(workers: int | None) -> int:
    """Return the workers to use: as asked, else one in a plain script, else one per core."""
    if workers is not None:
        return _count("workers", workers) or 1
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None):  # a script: spawned workers would re-run its unguarded top level
        return 1
    return default_workers()
