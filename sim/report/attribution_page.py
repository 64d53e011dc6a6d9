"""The report page of an `attribute` folder: what each control prevents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.config.schema import display
from sim.errors import InputError
from sim.report import experiment_figures as experiment_plots
from sim.report.document import Report, _fmt_interval, save
from sim.report.units import metric_label
from sim.results.readers import read_json
from sim.results.runs import MANIFEST_FORMAT
from sim.version import __version__


def attribution_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of an `attribute` folder."""
    document = read_json(folder / "attribution.json")
    if document.get("format") != MANIFEST_FORMAT:
        raise InputError(str(folder / "attribution.json"), "format", "these results are of an older format.",
                         "rerun `residency attribute`, then report again.")
    run = document["run"]
    controls = {k: v for k, v in document["controls"].items() if k != "all_controls_off"}
    base = float(document["as_configured"]["mean"])
    all_off = float(document["controls"]["all_controls_off"]["with_control_off"]["mean"])
    contributions = []
    for name, entry in controls.items():
        prevented = entry["prevented"]
        ci = prevented["ci95"] or [prevented["mean"], prevented["mean"]]
        contributions.append((name, float(prevented["mean"]), float(ci[0]), float(ci[1])))
    caption = f"seed {run['seed']}, {run['replications']} replications, residency {__version__}"
    titles = {name: display(name) for name in controls}
    detects = [name for name, entry in controls.items() if "detect" in str(entry.get("meaning", ""))]
    figure = save(experiment_plots.attribution_waterfall(base, contributions, all_off, caption, run["metric"], titles,
                                                         detects),
                  out / "figures", "attribution_waterfall", fmt,
                  "From the arrangement as configured to all controls off: what each control prevents.")
    rows = [[display(name), entry["meaning"], _fmt_interval(_leaf(entry["with_control_off"])),
             _fmt_interval(_leaf(entry["prevented"]), signed=True),
             "" if entry["share_of_all_off"] is None else f"{entry['share_of_all_off']:.0%}"]
            for name, entry in document["controls"].items()]
    return Report(title=f"What each control of {display(run['scenario'])} prevents", kind="attribute",
                  command=str(run.get("command", "residency attribute")),
                  intro=[f"Each control of {display(run['scenario'])} switched off in turn, and all at once, under "
                         f"common random numbers; the rise in {metric_label(run['metric'])} is what the control "
                         "prevents. Audit detects accesses after the fact: by design it prevents none."],
                  tables=[("Attribution (mean [95% CI])", ["control", "switched off means", "with it off",
                                                           "prevented", "share of all-off"], rows)],
                  figures=[figure])


def _leaf(value: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    ci = value.get("ci95")
    return value.get("mean"), ci[0] if ci else None, ci[1] if ci else None
