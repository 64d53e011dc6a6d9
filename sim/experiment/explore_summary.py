"""Assemble explore.json: the robust comparison, scenario discovery and history matching."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.experiment.decision import (
    DISTINGUISHABLE_SHARE,
    PAIRED_ALPHA,
    Cells,
    flip_question,
    indistinguishable,
    ties,
)
from sim.experiment.discovery import Question, discover, parse_question
from sim.experiment.explore import Exploration, history_table, world_table
from sim.experiment.explore_conclusion import conclusion
from sim.experiment.history import Observations, match
from sim.experiment.memory import blas_threads, collection_paused
from sim.experiment.robust import HEADLINE_METRICS, comparison, first_order, first_orders, world_means
from sim.experiment.voi import value_of_information
from sim.experiment.waves import wave_entry
from sim.results.store import Store

FORMAT = "residency-explore/1"
#: Shuffles (and their seed) behind the screen that leaves out parameters that cannot move the compared metric.
SCREEN_SHUFFLES = 200
SCREEN_SEED = 20140


def parameter_columns(exploration: Exploration) -> dict[str, list[Any]]:
    """Return each dimension's value in every world, by key."""
    rows = [exploration.world_values(w) for w in range(exploration.worlds)]
    return {d.key: [row[d.key] for row in rows] for d in exploration.dimensions}


def summary_metrics(metric: str, observations: Observations | None) -> list[str]:
    """Return the metrics explore.json reads: the compared one, the headline ones, and what history matching reads."""
    return list(dict.fromkeys([metric, *HEADLINE_METRICS, *observed_metrics(observations)]))


def observed_metrics(observations: Observations | None) -> list[str]:
    """Return the metrics history matching reads: each observation's output, whole and by year of its window."""
    wanted: list[str] = []
    for item in observations.items if observations is not None else ():
        wanted += [item.output, *(f"by_year.{year}.{item.output}"
                                  for year in range(item.window.start.year, item.window.end.year + 1))]
    return list(dict.fromkeys(wanted))


def relevant(parameters: dict[str, list[Any]], applies: dict[str, set[str]], question: Question,
             means: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """Return the parameters that can move what a question compares.

    A parameter must apply to an arrangement the question names, and its first-order index on
    the compared quantity (the pair's difference, or the one arrangement's value) must exceed
    the 95th percentile of the index on shuffled values: a parameter whose index is what
    shuffling gives cannot be seen to move the compared metric, and is left out of the search.
    """
    names = {question.left} | ({question.right} if isinstance(question.right, str) else set())
    compared = means[question.left] - (means[question.right] if isinstance(question.right, str) else 0.0)
    rng = np.random.default_rng(SCREEN_SEED)
    kept = {}
    for key, column in parameters.items():
        if not applies[key] & names:
            continue
        index = first_order(column, compared)
        if index is None:
            continue
        shuffles = np.stack([rng.permutation(compared) for _ in range(SCREEN_SHUFFLES)])
        chance = [value or 0.0 for value in first_orders(column, shuffles)]
        if index > float(np.percentile(chance, 95)):
            kept[key] = column
    return kept


def summarise(exploration: Exploration, store: Store, metric: str, questions: list[str],
              observations: Observations | None,
              candidates: list[str] | None = None, waves: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the explore.json document for the rows stored so far (`waves`: the earlier waves' records)."""
    with blas_threads():
        return _summarise(exploration, store, metric, questions, observations, candidates, waves)


def _summarise(exploration: Exploration, store: Store, metric: str, questions: list[str],
               observations: Observations | None, candidates: list[str] | None,
               waves: list[dict[str, Any]] | None) -> dict[str, Any]:
    names = exploration.names
    chosen = candidates or names
    with collection_paused():
        table = world_table(store, names, exploration.worlds, summary_metrics(metric, observations))
    parameters = parameter_columns(exploration)
    applies = {d.key: set(d.arrangements) for d in exploration.dimensions}
    result = comparison(table, metric, parameters, applies, None, chosen)
    days = exploration.arrangements[0].config.scenario.days
    document: dict[str, Any] = {
        "format": FORMAT, "kind": "explore", "worlds": exploration.worlds, "metric": metric,
        "replications": exploration.replications, "days": days, "seed": exploration.seed,
        "design": exploration.design, "parameters": {d.key: d.describe() for d in exploration.dimensions},
        **{k: result[k] for k in ("arrangements", "pairwise", "regret", "ranking", "references", "best_share")},
        "candidates": list(chosen),
    }
    means = world_means(table[metric])
    pair_ties = ties(table[metric], chosen)
    document["ties"] = {key: {k: v for k, v in entry.items() if k != "apart"} for key, entry in pair_ties.items()}
    document["paired_test"] = (f"per world, a paired t-test on the replication-by-replication differences (common "
                               f"random numbers) at the {PAIRED_ALPHA:.0%} level; a pair told apart in fewer than "
                               f"{DISTINGUISHABLE_SHARE:.0%} of the worlds is indistinguishable")
    asked = [parse_question(q, names) for q in questions]
    if not asked:
        flip = flip_question(pair_ties, means)
        asked = [flip] if flip else []
    document["discovery"] = [
        discover(q, metric, means, relevant(parameters, applies, q, means), seed=exploration.seed,
                 tie=isinstance(q.right, str) and _tie(table[metric], pair_ties, q.left, q.right))
        for q in asked]
    keep = None
    if observations is not None:
        keep, section = matched(exploration, table, observations, store)
        section["waves"] = [*(waves or []), wave_entry(len(waves or []) + 1, exploration, section)]
        section["comparison"] = comparison(table, metric, parameters, applies, keep, chosen)
        document["history_match"] = section
    document["value_of_information"] = value_of_information(
        {n: means[n] for n in chosen}, parameters, keep, metric, applies)
    document["display"] = {item.name: {"label": item.config.scenario.display or item.name,
                                       "colour": item.config.scenario.colour}
                           for item in exploration.arrangements}
    document["titles"] = titles(exploration)
    document["world_values"] = {"parameters": parameters,
                                "metric": {n: [_plain(v) for v in means[n]] for n in names}}
    document["conclusion"] = conclusion(document, keep)
    return document


def titles(exploration: Exploration) -> dict[str, str]:
    """Return the display titles of the actor groups, sites and organisations the arrangements name, by key."""
    found: dict[str, str] = {}
    for item in exploration.arrangements:
        config = item.config
        for table in (config.actors, config.sites, config.organisations):
            for key, entry in table.items():
                title = getattr(entry, "title", None)
                if isinstance(title, str) and title:
                    found.setdefault(key, title)
    return dict(sorted(found.items()))


def matched(exploration: Exploration, table: dict[str, Cells], observations: Observations,
            store: Store | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the worlds of an exploration the record does not rule out, and the history_match section.

    With `store`, counted windows of an arrangement run on the record's calendar are read from those runs. An
    observation whose fitted parameters are all ranged or set by the user (`--set`) is evidence.
    """
    # A fitted value a world ranges, or one the user set (`--set`), is no longer the value fitted to the facts.
    ranged = {item.name: {d.path for d in exploration.dimensions if item.name in d.arrangements}
              | {path for path, source in item.provenance.items() if source.kind == "override"}
              for item in exploration.arrangements}
    extra = history_table(store, exploration, observed_metrics(observations)) if store is not None else {}
    history = {name: ({metric: {name: cells[name]} for metric, cells in extra.items()}, start, days)
               for name, (start, days) in exploration.calendars.items() if extra}
    return match(observations, table, exploration.worlds, exploration.arrangements[0].config.scenario.days,
                 parameter_columns(exploration), exploration.arrangements[0].config.scenario.start_date, ranged,
                 history)


def _tie(cells: Cells, pair_ties: dict[str, dict[str, Any]], left: str, right: str) -> bool:
    """Return whether a pair is indistinguishable, testing it here when it is not a pair of candidates."""
    if f"{left}|{right}" in pair_ties or f"{right}|{left}" in pair_ties:
        return indistinguishable(pair_ties, left, right)
    return bool(ties(cells, [left, right])[f"{left}|{right}"]["indistinguishable"])


def _plain(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)
