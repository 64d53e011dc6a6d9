"""Covert attempts: exports that pass no gate, settled in the slow world for both request drivers.

An attempt reads the holdings in force at its instant and draws from its mode's own streams
(`actor.<name>.covert.*`), so nothing a request does changes it: both drivers see the same
attempts, settled once, here.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import simpy

from sim.config.schema import Channel, Config
from sim.model.rulebook.draws import (
    COVERT_U_AUDIT,
    COVERT_U_SITE,
    COVERT_U_STOP,
    COVERT_Z_AUDIT_DELAY,
    COVERT_Z_RECORDS,
)
from sim.model.rulebook.events import Accessed, CovertAttempt, CovertMode, Observer, Shielded
from sim.model.rulebook.routing import Actor, RouteTable, control_probability, cumulative, pick
from sim.model.rulebook.rules import detections
from sim.model.slow.holdings import Holdings


class Covert:
    """Settle each covert attempt: where it reads, whether its control stops it, whether the audit finds it."""

    def __init__(self, env: simpy.Environment, config: Config, observer: Observer, holdings: Holdings,
                 table: RouteTable | None = None) -> None:
        self.env = env
        self.config = config
        self.observer = observer
        self.holdings = holdings
        self.table = table if table is not None else RouteTable(config.routes)
        self._reach: dict[tuple[str, str], tuple[float, bool]] = {}

    def reach(self, actor: Actor, site_name: str) -> tuple[float, bool]:
        """Return the chance an exporter reaches plaintext at a site, and whether a gateway route leads there.

        Its company's keys (or a key holder it can make release them) give plaintext; so does a
        steward route, whose grants leave through the gateway. A parent or ungated route to a
        site whose keys the company does not control leads only to ciphertext.
        """
        config = self.config
        keys = control_probability(config, config.sites[site_name].key_custody, actor.spec.employer)
        gated = self.table.gate(actor.name, site_name, config.policy.counted_classes[0]) == "steward"
        return (1.0 if gated else keys), gated

    def attempt(self, actor: Actor, mode: CovertMode, u: list[float], z: list[float]) -> None:
        """Settle a covert attempt: where it reads, whether its control stops it, whether audit finds it.

        An export needs plaintext the exporter can reach (`reach`); where no site holding
        the class offers any, only the operator's insider channel (`controls.insider_export_share`)
        is left. At a site whose key holder releases only under pressure, the export reaches
        plaintext with that chance, and otherwise falls to the insider channel too. The uniform
        left over once the stop control lets an attempt pass decides the gateway, the keys and
        the insider, so the streams keep their layout.
        """
        now, config = self.env.now, self.config
        self.observer.notify(CovertAttempt(now, actor.name, mode))
        target_class = config.policy.counted_classes[0]
        holders = {site: shares[target_class] for site, shares in self.holdings.share.items()
                   if shares[target_class] > 0.0}
        if not holders:
            return
        reach = {site: self._reach_of(actor, site) for site in holders}
        weights = {site: share * reach[site][0] for site, share in holders.items()}
        reachable = sum(weights.values()) > 0.0
        mix = weights if reachable else holders
        total = sum(mix.values())
        names, cum = cumulative({site: weight / total for site, weight in mix.items() if weight > 0.0})
        site_name = pick(names, cum, u[COVERT_U_SITE])
        code = mode == "code_borne"
        controls, spec = config.controls, actor.spec
        stop = controls.code_review_coverage if code else controls.egress_monitoring_share
        if u[COVERT_U_STOP] < stop:
            self.observer.notify(Shielded(now, actor.name, "code_review" if code else "egress_monitoring",
                                          site_name))
            return
        after = (u[COVERT_U_STOP] - stop) / (1.0 - stop)  # uniform again, given the attempt passed
        median, sigma = ((spec.code_covert_records_median, spec.code_covert_records_sigma) if code
                         else (spec.covert_records_median, spec.covert_records_sigma))
        ceiling = None if code else spec.covert_records_max
        records = median * math.exp(sigma * bounded_normal(z[COVERT_Z_RECORDS], median, sigma, ceiling))
        if not reachable and after >= controls.insider_export_share:
            self.observer.notify(Shielded(now, actor.name, "no_reach", site_name, records))
            return
        chance, gated = reach[site_name] if reachable else (1.0, False)
        if not gated and after >= chance and (after - chance) / (1.0 - chance) >= controls.insider_export_share:
            # The key holder did not yield to the pressure (chance `chance`), and no insider exported.
            self.observer.notify(Shielded(now, actor.name, "no_reach", site_name, records))
            return
        keys = control_probability(config, config.sites[site_name].key_custody, spec.employer)
        if reachable and reach[site_name][1] and after >= keys and (
                (after - keys) / (1.0 - keys) < controls.gateway_deidentify_share):
            self.observer.notify(Shielded(now, actor.name, "deidentified", site_name, records))
            return
        channel: Channel | None = "covert" if actor.foreign else None
        detected_at = None
        if channel is not None:
            detected_at = self._detection(now, config.sites[site_name].access_logged, True,
                                          u[COVERT_U_AUDIT], z[COVERT_Z_AUDIT_DELAY])
        self.observer.notify(Accessed(now, None, actor.name, site_name, target_class, records,
                                      actor.foreign, channel, detected_at,
                                      "covert" if channel else None, channel is not None, mode))

    def _reach_of(self, actor: Actor, site_name: str) -> tuple[float, bool]:
        key = (actor.name, site_name)
        found = self._reach.get(key)
        if found is None:
            found = self._reach[key] = self.reach(actor, site_name)
        return found

    def _detection(self, t: float, logged: bool, improper: bool, u: float, z: float) -> float | None:
        """Return when the audit finds an improper access, or None if it never does."""
        found: float = detections(self.config.controls, t, improper, logged, u, z)
        return None if math.isnan(found) else found


def bounded_normal(z: float, median: float, sigma: float, ceiling: float | None) -> float:
    """Return z mapped onto a standard normal truncated where median * exp(sigma * z) reaches `ceiling`.

    The map keeps the order of draws (the quantile is scaled into the truncated range), so
    common random numbers hold and no size exceeds the ceiling.
    """
    if ceiling is None or sigma == 0.0:
        return z
    normal = NormalDist()
    top = normal.cdf(math.log(ceiling / median) / sigma)
    return normal.inv_cdf(min(max(normal.cdf(z) * top, 1e-300), 1.0 - 1e-16))
