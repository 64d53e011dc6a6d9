"""The report page of an exploration: the robust conclusion first, then its evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.metrics.units import kind_of, number
from sim.report import explore_figures as plots
from sim.report.document import FigureFile, Report, read_finished, save
from sim.report.experiment_figures import Vocabulary
from sim.version import __version__

EXPLORE_JSON = "explore.json"


def read_document(folder: Path) -> dict[str, Any]:
    """Return a folder's explore.json, or fail with what to do."""
    return read_finished(folder, EXPLORE_JSON, "the exploration", "explore")


def explore_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of an explore folder."""
    document = read_document(folder)
    metric, order = document["metric"], [*document["ranking"], *document.get("references", [])]
    caption = (f"{document['worlds']} worlds x {document['replications']} replications of {document['days']} days, "
               f"seed {document['seed']}, residency {__version__}")
    intro = [*document["conclusion"],
             f"Each world draws every ranged parameter from its plausible range ({len(document['parameters'])} "
             f"parameters, {document['design']} design); parameters of the shared world take one value per world "
             f"for every arrangement, and all arrangements of a world see the same requests (common random "
             f"numbers). Lower {metric} is better."]
    return Report(title="Which arrangement is better across every plausible world", kind="explore",
                  command=str(document.get("command", "residency explore")), intro=intro,
                  tables=_tables(document, order), figures=_figures(document, order, out / "figures", fmt, caption))


def _tables(document: dict[str, Any], order: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    metric = document["metric"]
    kind = kind_of(metric)
    bands = [[name, _band(document["arrangements"][name][metric], kind),
              number(document["arrangements"][name][metric]["replication_noise"], kind),
              number(document["regret"][name]["max"], kind), number(document["regret"][name]["p90"], kind)]
             for name in order]
    header = ["arrangement", "median [5%, 95%]", "replication noise ±", "max regret", "p90 regret"]
    candidates = document.get("candidates", order)
    for row in bands:
        row[0] += "" if row[0] in candidates else " (reference)"
    tables = [(f"{metric} across all {document['worlds']} sampled worlds, candidates ranked by regret against the "
               "best candidate of each world, then references", header, bands)]
    matched = document.get("history_match", {}).get("comparison")
    if matched and 0 < matched["worlds"] < document["worlds"]:  # when the record rules nothing out, it is the same
        tables.append((f"{metric} across the {matched['worlds']} worlds the public record does not rule out", header,
                       [[name, _band(matched["arrangements"][name][metric], kind),
                         number(matched["arrangements"][name][metric]["replication_noise"], kind),
                         number(matched["regret"][name]["max"], kind), number(matched["regret"][name]["p90"], kind)]
                        for name in [*matched["ranking"], *matched.get("references", [])]]))
    if document.get("ties"):
        tables.append((f"Can the candidates be told apart? ({document.get('paired_test', 'paired test per world')})",
                       ["pair", "worlds told apart", "verdict"],
                       [[f"{e['left']} - {e['right']}", f"{e['distinguishable_worlds']} of {e['worlds']}",
                         "indistinguishable" if e["indistinguishable"] else "told apart"]
                        for e in document["ties"].values()]))
    voi = document.get("value_of_information", {})
    if voi.get("evpi") is not None:
        shown = [*voi["groups"].values(), *list(voi["parameters"].values())[:15]]
        noisy = sum(not e.get("resolved", True) for e in shown)
        note = (f"; {noisy} of the {len(shown)} estimates below are within two standard errors of zero, marked "
                "'not resolved': at this many worlds they cannot be told from noise" if noisy else "")
        tables.append((f"Value of information for the choice among the candidates, in {metric} (EVPI "
                       f"{number(voi['evpi'], kind)}; {voi['method']}{note})", ["unknown", "EVPPI", "standard error"],
                       [[f"group: {g}", number(e["evppi"], kind),
                         number(e["se"], kind) + ("" if e.get("resolved", True) else " (not resolved)")]
                        for g, e in voi["groups"].items()]
                       + [[plots.parameter_label(k, _vocabulary(document, order)), number(e["evppi"], kind),
                           number(e["se"], kind) + ("" if e.get("resolved", True) else " (not resolved)")]
                          for k, e in list(voi["parameters"].items())[:15]]))
    tables.append(("P(row leaves less than column) [95% CI]", ["", *order],
                   [[a, *["–" if a == b else _share(document["pairwise"][a][b]["p_less"]) for b in order]]
                    for a in order]))
    others = [m for m in next(iter(document["arrangements"].values())) if m != metric]
    if others:
        tables.append(("Other headline metrics across worlds: median [5%, 95%]", ["arrangement", *others],
                       [[n, *[_band(document["arrangements"][n][m], kind_of(m)) for m in others]] for n in order]))
    drivers = []
    for a in order:
        for b in order:
            if a < b:
                scores = document["pairwise"][a][b].get("importance", {})
                drivers.append([f"{a} - {b}", "; ".join(f"{k} {v:.2f}" for k, v in list(scores.items())[:3]) or "–"])
    tables.append(("What drives each paired difference (first-order index, top 3)", ["pair", "parameters"], drivers))
    boxes = [[found["question"], found.get("verdict", ""), f"{found['cases']} of {found['worlds']}",
              "; ".join(f"{plots.parameter_label(k, _vocabulary(document, order))} {_limits(v)}"
                        for k, v in box["limits"].items()) or "(whole space)",
              f"{box['coverage']:.0%}", f"{box['density']:.0%}", _p(box.get("p_value"))]
             for found in document["discovery"] for box in found["boxes"]]
    boxes += [[found["question"], found["verdict"], f"{found['cases']} of {found['worlds']}", "(no box)", "–", "–",
               "–"] for found in document["discovery"] if not found["boxes"] and "verdict" in found]
    if boxes:
        tables.append(("Scenario discovery (PRIM boxes; p against boxes fitted to shuffled labels)",
                       ["question", "verdict", "worlds where it holds", "box", "coverage", "density", "p"], boxes))
    if "history_match" in document:
        tables.append(_history_table(document["history_match"]))
    tables.append(("Ranged parameters", ["parameter", "arrangements", "range", "distribution", "source"],
                   [[key, "all (shared world)" if len(p["arrangements"]) == len(document["arrangements"])
                     else ", ".join(p["arrangements"]),
                     _limits(p.get("range") or p.get("alternatives")), p.get("distribution", "choice"), p["cite"]]
                    for key, p in document["parameters"].items()]))
    return tables


def _history_table(matched: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    rows = [[key, f"{entry.get('arrangement', '–')}: {entry.get('output', '–')} ({entry.get('read', '–')})",
             _record(entry), str(entry["evaluated"]), str(entry["ruled_out"]), str(entry.get("undefined", 0)),
             "yes" if entry.get("used", True) else str(entry.get("why", "no")), _facts(entry["fact"])]
            for key, entry in matched["observations"].items()]
    for wave in matched.get("waves", []):
        rows.append([f"wave {wave['wave']}", f"{wave['worlds']} worlds", "", "", str(wave["ruled_out"]), "", "",
                     "; ".join(f"{k} {v}" for k, v in wave["by_observation"].items() if v)])
    for key, after in matched["ranges_after"].items():
        before = matched["ranges_before"].get(key, after)
        if before != after:
            rows.append([key, f"range {_limits(before)} -> {_limits(after)}", "", "", "", "", "", ""])
    return (f"History matching: {matched['ruled_out']} worlds ruled out (implausibility above {matched['cutoff']:g})",
            ["observation, wave or parameter", "model output (how read)", "the record (sd; discrepancy sd)",
             "worlds evaluated", "ruled out", "undefined", "used as evidence", "fact"], rows)


def _record(entry: dict[str, Any]) -> str:
    """Return what an observation says: its bound or value, its sd and the model's discrepancy, and the scale."""
    if "value" not in entry:
        return "–"
    side = {"at_least": "at least ", "at_most": "at most "}.get(entry.get("direction", "both"), "")
    log = entry.get("scale") == "log"
    return (f"{side}{entry['value']:,.6g} ({'log scale: ' if log else ''}sd {entry['sd']:,.6g}; "
            f"{entry.get('discrepancy_sd', 0):,.6g})")


def _figures(document: dict[str, Any], order: list[str], folder: Path, fmt: str, caption: str) -> list[FigureFile]:
    metric = document["metric"]
    values = document["world_values"]
    words = _vocabulary(document, order)
    days = document.get("days")
    figures = [
        save(plots.distributions(values["metric"], order, metric, caption, words, days), folder,
             "explore_distributions", fmt,
             f"{metric} in every plausible world, per arrangement (box: quartiles; whiskers: 5-95%)."),
        save(plots.win_matrix(document["pairwise"], order, caption, words), folder, "explore_win_matrix", fmt,
             "Share of worlds in which the row arrangement leaves less than the column arrangement."),
        save(plots.regret_bars(document["regret"], order, metric, caption, words, days), folder, "explore_regret",
             fmt,
             "Maximum and 90th-percentile regret: how far each arrangement can fall behind the best of a world."),
    ]
    for k, found in enumerate(f for f in document["discovery"] if f["boxes"] and f.get("verdict", "found") == "found"):
        figures.append(save(plots.prim_tradeoff(found, caption, words), folder, f"explore_prim_tradeoff_{k + 1}",
                            fmt,
                            f"PRIM's coverage-density trade-off {found['phrase']}; the chosen box circled."))
        figures.append(save(plots.prim_box(found, values["parameters"], found["holds"], caption, words), folder,
                            f"explore_prim_box_{k + 1}", fmt,
                            f"The worlds over the box's parameters {found['phrase']}; the box dashed."))
    voi = document.get("value_of_information", {})
    if voi.get("evpi") is not None and voi.get("parameters"):
        figures.append(save(plots.value_of_information(voi, metric, caption, words, days), folder,
                            "value_of_information", fmt, "What to find out first: the expected value of partial "
                            "perfect information of each unknown and named group for the candidates' choice."))
    matched = document.get("history_match")
    # Only parameters of an arrangement the record observed can move an implausibility; the others' curves are noise.
    observed = {e.get("arrangement") for e in (matched or {}).get("observations", {}).values() if e.get("used", True)}
    profile = {k: v for k, v in (matched or {}).get("minimum_implausibility", {}).items()
               if observed & set(document["parameters"].get(k, {}).get("arrangements", observed))}
    if matched and profile:
        figures.append(save(plots.minimum_implausibility(profile, matched["cutoff"], caption, words), folder,
                            "explore_minimum_implausibility", fmt,
                            "The smallest implausibility in each slice of the range of each parameter of an observed "
                            f"arrangement ({', '.join(sorted(map(str, observed)))}): above the cut-off, the record "
                            "allows no world there."))
    before, after = (matched["ranges_before"], matched["ranges_after"]) if matched else ({}, {})
    # Only the ranges the record narrows: a bar per untouched parameter would say nothing.
    narrowed = sorted(k for k in before if k in after and after[k] != before[k])
    if narrowed:
        figures.append(save(plots.ranges_matched({k: before[k] for k in narrowed}, {k: after[k] for k in narrowed},
                                                 caption, words),
                            folder, "explore_ranges", fmt, "Each parameter's sampled range and the part the public "
                            "record does not rule out (only the ranges it narrows)."))
    return figures


def _vocabulary(document: dict[str, Any], order: list[str]) -> Vocabulary:
    """Return the arrangements' display names and colours from explore.json's display section."""
    shown = document.get("display", {})  # absent from explorations written before it was added
    return Vocabulary({n: str(shown.get(n, {}).get("label") or n) for n in order},
                      {n: str(shown[n]["colour"]) for n in order if shown.get(n, {}).get("colour")},
                      {str(k): str(v) for k, v in document.get("titles", {}).items()})


def _band(entry: dict[str, Any], kind: str) -> str:
    return f"{number(entry['p50'], kind)} [{number(entry['p05'], kind)}, {number(entry['p95'], kind)}]"


def _share(p_less: dict[str, Any]) -> str:
    if p_less["mean"] is None:
        return "–"
    low, high = p_less["ci95"]
    return f"{p_less['mean']:.0%} [{low:.0%}, {high:.0%}]"


def _limits(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    return str(value)


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _facts(cited: str | list[str]) -> str:
    """Return one fact id, or several joined."""
    return cited if isinstance(cited, str) else ", ".join(cited)
