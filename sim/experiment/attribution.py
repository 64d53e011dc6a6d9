"""What each control buys: rerun an arrangement with each control switched off in turn.

Which parameters a control switches off is defined here and only here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sim.config.loader import LoadedConfig
from sim.config.schema import Config
from sim.experiment.executors import Executor
from sim.experiment.replications import Progress, ScenarioResult, run_scenarios
from sim.metrics.stats import Estimate, estimate, paired_difference

Switch = Callable[[dict[str, Any]], None]


def _gate_off(data: dict[str, Any]) -> None:
    data["routes"] = [dict(route, gate="none") if route["gate"] == "steward" else route
                      for route in data["routes"]]


def _keys_off(data: dict[str, Any]) -> None:
    data["controls"]["key_custody_enforced"] = False


def _gateway_off(data: dict[str, Any]) -> None:
    data["controls"]["gateway_deidentify_share"] = 0.0


def _code_review_off(data: dict[str, Any]) -> None:
    data["controls"]["code_review_coverage"] = 0.0


def _egress_off(data: dict[str, Any]) -> None:
    data["controls"]["egress_monitoring_share"] = 0.0


def _audit_off(data: dict[str, Any]) -> None:
    data["controls"]["audit_detect_probability"] = 0.0


def _deletion_off(data: dict[str, Any]) -> None:
    allowed = set(data["policy"]["allowed_rest"])
    abroad = {name for name, site in data["sites"].items() if site["jurisdiction"] not in allowed}
    data["deletions"] = [d for d in data["deletions"] if d["site"] not in abroad]


#: Each control, what switching it off means, and how.
CONTROLS: dict[str, tuple[str, Switch]] = {
    "stewardship_gate": ("requests routed to the steward gate pass with no gate", _gate_off),
    "key_custody": ("key custody no longer turns bypassing reads into ciphertext", _keys_off),
    "gateway_deidentification": ("the gateway returns no data de-identified", _gateway_off),
    "code_review": ("source-code review stops no code-borne covert read", _code_review_off),
    "egress_monitoring": ("egress monitoring stops no bulk export by hand", _egress_off),
    "audit": ("audit logs detect nothing", _audit_off),
    "deletion_abroad": ("copies at sites abroad are never deleted", _deletion_off),
}
ALL_OFF = "all_controls_off"


def switched_off(config: Config, controls: list[str]) -> Config:
    """Return the config with the named controls switched off."""
    data = config.model_dump()
    data["routes"] = list(data["routes"])
    data["deletions"] = list(data["deletions"])
    for name in controls:
        CONTROLS[name][1](data)
    return Config.model_validate(data)


def variants(loaded: LoadedConfig) -> list[tuple[str, LoadedConfig]]:
    """Return the arrangement as is, with each control off in turn, and with all off."""
    out = [("as_configured", loaded)]
    for name in [*CONTROLS, ALL_OFF]:
        names = list(CONTROLS) if name == ALL_OFF else [name]
        config = switched_off(loaded.config, names)
        out.append((name, dataclasses.replace(loaded, config=config,
                                              overrides=(*loaded.overrides, f"control off: {name}"))))
    return out


@dataclasses.dataclass(frozen=True)
class Attribution:
    """One control's contribution: the metric with it off, and the paired rise over as-configured."""

    control: str
    meaning: str
    with_control_off: Estimate
    contribution: Estimate
    share_of_total: float | None


def attribute(
    loaded: LoadedConfig, seed: int, replications: int, executor: Executor,
    metric: str = "residual_access.events", progress: Progress | None = None,
) -> tuple[Estimate, list[Attribution], list[ScenarioResult]]:
    """Run every variant under common random numbers and attribute the reduction in `metric`."""
    named = variants(loaded)
    results = run_scenarios([v for _, v in named], seed, replications, progress=progress, executor=executor)
    values = {name: [r.metrics[metric] for r in res.replications]
              for (name, _), res in zip(named, results, strict=True)}
    base = values["as_configured"]
    total = paired_difference(values[ALL_OFF], base)
    rows = []
    for name in [*CONTROLS, ALL_OFF]:
        rise = paired_difference(values[name], base)
        share = (rise.mean / total.mean if total.mean and rise.mean is not None else None)
        meaning = "every control above switched off at once" if name == ALL_OFF else CONTROLS[name][0]
        rows.append(Attribution(name, meaning, estimate(values[name]), rise, share))
    return estimate(base), rows, results
