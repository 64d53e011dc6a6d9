"""The notebook API's explore and list: arrangements across plausible worlds, and what ships.

`sim.explore` runs what `residency explore` runs and returns its tables; like every call that
writes, it writes only into the folder its `out` names. `sim.list` returns the shipped
arrangements, sweeps and lessons as a table, the names every call accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.api import ConfigLike, _engine, _load_with_run_settings, _numeric, _out_folder, _workers
from sim.config.resources import (
    ARRANGEMENTS,
    LESSONS,
    SWEEPS,
    project_path,
    shipped_names,
    shipped_path,
    shipped_title,
)
from sim.errors import InputError
from sim.results.runs import to_json

__all__ = ["ExploreResult", "explore", "list_shipped"]

#: What `sim.list` lists: the kind, its shipped folder and the table that holds each file's title.
SHIPPED = (("arrangement", ARRANGEMENTS, "scenario"), ("sweep", SWEEPS, "sweep"), ("lesson", LESSONS, "lesson"))


def explore(
    configs: Iterable[ConfigLike] | None = None, *, out: str | Path | None = None, worlds: int = 50,
    replications: int = 3, days: int | None = None, seed: int | None = None,
    metric: str = "residual_access.events", design: str = "latin", discover: Iterable[str] = (),
    history_match: bool = False, observations: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None, workers: int | None = None, scheduler: str | None = None,
    engine: str = "fast",
) -> ExploreResult:
    """Compare arrangements across plausible worlds sampled over the configs' ranges, into the folder `out`.

    Takes what `residency explore` takes (`configs` default to every shipped arrangement) and
    returns the bands, regrets and win probabilities as tables; `document` is explore.json.
    `out` is required: the call writes its results database and explore.json there, nowhere else.
    """
    from sim.experiment.discovery import parse_question
    from sim.experiment.executors import make_executor
    from sim.experiment.explore import plan, run_exploration
    from sim.experiment.explore_summary import summarise
    from sim.experiment.history import check_against, history_calendars, load_observations
    from sim.experiment.replications import engine_used
    from sim.experiment.sweep import metric_names
    from sim.results.runs import write_manifest
    from sim.results.store import Store

    folder = _out_folder(out, "explore", "reports/explore")
    chosen = list(configs) if configs is not None else sorted(project_path(ARRANGEMENTS).glob("*.toml"))
    loaded = [_load_with_run_settings(c, overrides, seed, None, days) for c in chosen]
    if not loaded:
        raise InputError("sim.explore", "configs", "there are no configs to explore.", "give at least one config.")
    known = metric_names(loaded[0].config)
    if metric not in known:
        raise InputError("metric", metric, "this is not a metric the model reports.",
                         "use a path from `sim.run(...).summary.metric`, such as residual_access.events.")
    if replications < 1:
        raise InputError("replications", str(replications), "replications must be 1 or more.",
                         "give replications=1 or more.")
    questions = list(discover)
    for question in questions:
        parse_question(question, [item.name for item in loaded])
    observed = None
    if history_match:
        observed = load_observations(Path(observations) if observations is not None
                                     else project_path(Path("configs") / "explore" / "observations.toml"))
        check_against(observed, [item.name for item in loaded], known)
    run_seed = seed if seed is not None else loaded[0].config.scenario.seed
    calendars = history_calendars(observed, {item.name: (item.config.scenario.start_date, item.config.scenario.days)
                                             for item in loaded})
    exploration = plan(loaded, worlds, replications, run_seed, design, history=calendars)
    executor = make_executor(_workers(workers), scheduler, _engine(engine), folder)
    command = f"sim.explore({', '.join(exploration.names)}, worlds={worlds}, replications={replications})"
    with Store(folder) as store:
        store.set_meta("command", command)
        write_manifest(folder, "explore", command, exploration.names, None, run_seed, replications,
                       engine_used([item.config for item in exploration.arrangements], _engine(engine)))
        try:
            run_exploration(exploration, store, executor)
        finally:
            executor.close()
        document = summarise(exploration, store, metric, questions, observed)
    document["command"] = command
    (folder / "explore.json").write_text(to_json(document), encoding="utf-8")
    return ExploreResult(folder, document)


@dataclass(frozen=True)
class ExploreResult:
    """An exploration: `bands`, `regret` and `pairwise` as DataFrames, `conclusion` in sentences."""

    folder: Path
    document: dict[str, Any] = field(repr=False)

    def __repr__(self) -> str:
        """Return a one-line description (the results are in the tables)."""
        return (f"<ExploreResult of {', '.join(self.document['ranking'])} over {self.document['worlds']} worlds "
                f"in {self.folder}; tables: bands, regret, pairwise, worlds; conclusion>")

    @property
    def bands(self) -> pd.DataFrame:
        """Return one row per (arrangement, metric): the 5%, 50% and 95% points across worlds, and the noise."""
        rows = [{"arrangement": name, "metric": metric, **values}
                for name, metrics in self.document["arrangements"].items() for metric, values in metrics.items()]
        return _numeric(pd.DataFrame.from_records(rows))

    @property
    def regret(self) -> pd.DataFrame:
        """Return one row per arrangement, best first: its regret's maximum, 90th percentile and mean."""
        regret = self.document["regret"]
        rows = [{"arrangement": name, **regret[name]} for name in self.document["ranking"]]
        return _numeric(pd.DataFrame.from_records(rows))

    @property
    def pairwise(self) -> pd.DataFrame:
        """Return one row per ordered pair: the share of worlds where `arrangement` leaves less than `other`."""
        rows = []
        for name, others in self.document["pairwise"].items():
            for other, entry in others.items():
                share = entry["p_less"]
                low, high = share["ci95"] or (None, None)
                rows.append({"arrangement": name, "other": other, "p_less": share["mean"], "ci95_low": low,
                             "ci95_high": high, "worlds": share["worlds"], "ties": share["ties"],
                             "median_difference": entry.get("median_difference")})
        return _numeric(pd.DataFrame.from_records(rows))

    @property
    def worlds(self) -> pd.DataFrame:
        """Return one row per world: the sampled parameters and each arrangement's mean of the metric."""
        values = self.document["world_values"]
        frame = pd.DataFrame({**values["parameters"], **values["metric"]})
        return _numeric(frame.rename_axis("world").reset_index())

    @property
    def conclusion(self) -> list[str]:
        """Return the robust conclusion in plain sentences."""
        return list(self.document["conclusion"])


def list_shipped(kind: str | None = None) -> pd.DataFrame:
    """Return the shipped arrangements, sweeps and lessons (or one kind of them): kind, name, title and path.

    Every call that takes a config, sweep or lesson accepts these names.
    """
    kinds = [entry for entry in SHIPPED if kind is None or entry[0] == kind]
    if not kinds:
        raise InputError("sim.list", "kind", f"there is no kind {kind!r}.",
                         "use kind='arrangement', 'sweep' or 'lesson', or leave it out for all three.")
    rows = []
    for name_of_kind, folder, table in kinds:
        for name in shipped_names(folder):
            path = shipped_path(folder) / f"{name}.toml"
            rows.append({"kind": name_of_kind, "name": name, "title": shipped_title(path, table) or "",
                         "path": str(path)})
    return pd.DataFrame.from_records(rows, columns=["kind", "name", "title", "path"])
