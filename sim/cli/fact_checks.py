"""Print the citation audit and the detection-delay fit for `residency facts`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import out
from sim.config.audit import AuditResult, Finding
from sim.config.detection_fit import DelayFit, geometric_centre, lognormal_cdf
from sim.config.facts import Fact
from sim.config.loader import LoadedConfig

EXIT_FINDINGS = 1


def print_audit(results: list[AuditResult]) -> None:
    """Print every citation that does not hold and exit 1, or one line saying all hold."""
    checked = sum(r.checked for r in results)
    unique = list(dict.fromkeys(f for r in results for f in r.findings))
    if not unique:
        out.print(f"all {checked} citations hold ({len(results)} config(s) audited)")
        return
    for finding in unique:
        print_finding(finding)
    out.print(f"{len(unique)} citation(s) do not hold, of {checked} numeric citations in "
              f"{len(results)} config(s).")
    raise typer.Exit(EXIT_FINDINGS)


def print_finding(finding: Finding) -> None:
    """Print one finding: where, what, what the fact states and the fix."""
    value = finding.value if isinstance(finding.value, dt.date) else f"{finding.value:g}"
    out.print(f"{escape(finding.file)}: {finding.key} = {value}", markup=False)
    out.print(f"  cites: {', '.join(finding.facts)}", markup=False)
    out.print(f"  the facts state: {finding.states}", markup=False)
    out.print(f"  fix: {finding.fix}", markup=False)


def print_fit(fit: DelayFit, facts: dict[str, Fact], configs: list[LoadedConfig]) -> None:
    """Print the incidents, the fitted lognormal and where each case falls under it and the configs."""
    table = Table(title="Dated public incidents: delay from access to disclosure", title_justify="left")
    for column in ("incident", "access", "disclosed", "delay days", "placed at"):
        table.add_column(column)
    for fact_id, interval in zip(fit.incidents, fit.intervals, strict=True):
        incident = facts[fact_id].incident
        assert incident is not None
        table.add_row(fact_id, _window(incident.access), _window(incident.disclosed),
                      f"{interval[0]}-{interval[1]}", f"{geometric_centre(interval):.0f}")
    out.print(table)
    out.print(f"lognormal fitted by maximum likelihood to the {len(fit.intervals)} delay intervals "
              f"(interval-censored; log-likelihood {fit.log_likelihood:.2f}):")
    out.print(f"  audit_delay_days_median = {fit.median_days:.1f}")
    out.print(f"  audit_delay_sigma = {fit.sigma:.3f}")
    cites = ", ".join(f'"{i}"' for i in fit.incidents)
    out.print(f"  in a config: audit_delay_days_median = {{ value = {fit.median_days:.0f}, fact = [{cites}] }}",
              markup=False)
    out.print("Disclosure bounds discovery from above, and only cases that came out are public: "
              "the fit describes delays to public disclosure of what was found.")
    print_quantiles(fit, configs)


def print_quantiles(fit: DelayFit, configs: list[LoadedConfig]) -> None:
    """Print the quantile at which each case falls under the fit and under each config's delay."""
    table = Table(title="Quantile of each case (its delay interval's geometric centre)", title_justify="left")
    table.add_column("incident")
    table.add_column("fit", justify="right")
    for loaded in configs:
        table.add_column(loaded.name, justify="right")
    for fact_id, interval in zip(fit.incidents, fit.intervals, strict=True):
        centre = geometric_centre(interval)
        row = [fact_id, f"{fit.quantile_of(centre):.5f}"]
        for loaded in configs:
            controls = loaded.config.controls
            row.append(f"{lognormal_cdf(centre, controls.audit_delay_days_median, controls.audit_delay_sigma):.5f}")
        table.add_row(*row)
    out.print(table)
    shapes = [f"fit: median {fit.median_days:.0f} d, sigma {fit.sigma:.2f}"] + [
        f"{c.name}: median {c.config.controls.audit_delay_days_median:g} d, sigma "
        f"{c.config.controls.audit_delay_sigma:g}" for c in configs]
    out.print("; ".join(shapes))


def _window(pair: tuple[object, object]) -> str:
    first, last = pair
    return str(first) if first == last else f"{first} to {last}"


def fact_base_path(configs: list[Path]) -> Path | None:
    """Return the fact base the first config would use, else the one nearest the working folder."""
    from sim.config.facts import find_fact_base

    start = configs[0].resolve().parent if configs else Path.cwd()
    return find_fact_base(start)
