"""The report page of a design: the target's answer first, then the front with each point's command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.metrics.units import kind_of, number
from sim.report.design_figures import COST, front_figure
from sim.report.document import Report, Table, read_finished, save
from sim.version import __version__

DESIGN_JSON = "design.json"


def read_document(folder: Path) -> dict[str, Any]:
    """Return a folder's design.json, or fail with what to do."""
    return read_finished(folder, DESIGN_JSON, "the design", "design")


def design_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of a design folder."""
    doc = read_document(folder)
    caption = (f"{doc['trials']} candidates x {doc['worlds']} worlds x {doc['replications']} replications of "
               f"{doc['days']} days, seed {doc['seed']}, residency {__version__}")
    intro = [doc["answer"],
             f"Every candidate set of terms ran in the same {doc['worlds']} plausible worlds "
             f"({doc['parameters']} ranged parameters sampled as `explore` does; a lever's own range is pinned, "
             f"not sampled) under the same seeds, so candidates compare paired. Objectives: {doc['statistic']}. "
             f"The search is NSGA-II ({doc['population']} candidates a generation); "
             f"the lever file is {doc['levers_file']}."]
    figure = save(front_figure(doc, caption), out / "figures", "design_front", fmt,
                  f"Terms for {doc['display']}: residual access against yearly cost")
    return Report(title=f"Design: {doc['title'] or doc['display']}", kind="design",
                  command=str(doc.get("command", "residency design")), intro=intro, tables=tables(doc),
                  figures=[figure])


def value_text(name: str, entry: dict[str, float] | None) -> str:
    """Return an objective's value with its 95% interval (dollars for the cost)."""
    if entry is None:
        return "–"
    if name == COST:
        return dollars(entry["value"])
    kind = kind_of(name)
    return f"{number(entry['value'], kind)} [{number(entry['low'], kind)}, {number(entry['high'], kind)}]"


def dollars(value: float) -> str:
    """Format dollars as $12.3M."""
    return f"${value / 1e6:,.1f}M"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def tables(doc: dict[str, Any]) -> list[Table]:
    """Return the front (with commands), the reference arrangements and the levers."""
    names = list(doc["sense"])
    header = ["#", *[f"{n} ({doc['sense'][n]})" for n in names], "target share", "terms", "command"]
    front = [[str(p["number"]), *[value_text(n, p["objectives"][n]) for n in names], _share(p["target_share"]),
              _terms(p["terms"]), p["command"]] for p in doc["front"]]
    reference = [[entry["display"], *[value_text(n, entry["objectives"].get(n)) for n in names],
                  _share(entry["target_share"])] for entry in doc["reference"]["arrangements"].values()]
    levers = [[lever["path"], lever["title"], _bounds(lever), str(lever["shipped"]), _cost(lever["cost"]["one_off"]),
               _cost(lever["cost"]["yearly"]), lever["overrides_range"] or "–", lever["cost"]["source"]]
              for lever in doc["levers"]]
    return [
        ("The front: terms no other candidate beats on every objective (values with 95% intervals over worlds)",
         header, front),
        ("Reference: the shipped terms and arrangements on the same worlds", ["arrangement", *names, "target share"],
         reference),
        ("Levers: bounds, shipped value and cost", ["path", "lever", "bounds", "shipped", "one-off $", "yearly $",
                                                     "overrides the range", "cost source"], levers),
    ]


def _terms(terms: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in terms.items())


def _bounds(lever: dict[str, Any]) -> str:
    if "choices" in lever:
        return " | ".join(lever["choices"])
    return f"{lever['low']:g} to {lever['high']:g} ({lever['scale']})"


def _cost(cost: dict[str, float]) -> str:
    if set(cost) == {"at_low", "at_high"}:
        return f"{dollars(cost['at_low'])} to {dollars(cost['at_high'])}"
    return ", ".join(f"{k} {dollars(v)}" for k, v in cost.items())
