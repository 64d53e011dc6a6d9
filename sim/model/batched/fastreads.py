"""Reads in the fast engine: the tables by site and actor group that the read rules (`rules`) take.

Each candidate for residual access (a counted class read by a foreign group) becomes one row
of `Reads`: residual access, or shielded by the gateway or by key custody. Draws are the
request's own row (`draws`).
"""

from __future__ import annotations

import math

import numpy as np

from sim.config.schema import CHANNELS, Config
from sim.model.rulebook.draws import U_AUDIT, U_CONTROL, Z_AUDIT_DELAY, Z_RECORDS
from sim.model.rulebook.events import COVERT_MODES, GRANTS, Accessed, Grant
from sim.model.rulebook.routing import Actor, control_probability
from sim.model.rulebook.rules import channels, detections, records, shields
from sim.model.rulebook.tally import ACCESS, Reads


class ReadTables:
    """What settling a read needs from the config, as arrays by site and by actor group."""

    def __init__(self, config: Config, actors: list[Actor]) -> None:
        self.controls = config.controls
        self.sites = list(config.sites)
        self.classes = list(config.data)
        self.key_control = np.array([[control_probability(config, site.key_custody, actor.spec.employer)
                                      for actor in actors] for site in config.sites.values()])
        self.abroad = np.array([site.jurisdiction not in config.policy.allowed_rest
                                for site in config.sites.values()], dtype=bool)
        self.logged = np.array([site.access_logged for site in config.sites.values()], dtype=bool)
        self.records_median = np.array([actor.spec.records_median for actor in actors])
        self.records_sigma = np.array([actor.spec.records_sigma for actor in actors])

    def residual(self, grant: Grant, group: np.ndarray, site: np.ndarray, steward: np.ndarray,
                 released: np.ndarray, u: np.ndarray, z: np.ndarray, cls: np.ndarray, improper: np.ndarray,
                 t: np.ndarray, reported: np.ndarray, order: np.ndarray) -> Reads:
        """Return the rows of reads granted by `grant` at instants `t`, reported at `reported`."""
        controls = self.controls
        n = group.size
        taken = records(self.records_median[group], self.records_sigma[group], z[:, Z_RECORDS])
        kind = shields(controls, grant, steward, released, u[:, U_CONTROL], self.key_control[site, group])
        channel = channels(grant, self.abroad[site])
        detected_at = detections(controls, t, (kind == ACCESS) & improper, self.logged[site], u[:, U_AUDIT],
                                 z[:, Z_AUDIT_DELAY])
        return Reads(reported, order, t, kind, taken, site, channel, np.full(n, GRANTS.index(grant)),
                     cls, improper, detected_at, np.full(n, -1))

    def covert(self, reported: float, order: int, event: Accessed) -> Reads:
        """Return a covert read the slow processes reported, as one row."""
        return Reads(
            np.array([reported]), np.array([order]), np.array([event.t]), np.array([ACCESS]),
            np.array([event.records]), np.array([self.sites.index(event.site)]),
            np.array([CHANNELS.index(event.channel or "covert")]), np.array([GRANTS.index(event.grant or "covert")]),
            np.array([self.classes.index(event.data_class)]), np.array([event.improper]),
            np.array([math.nan if event.detected_at is None else event.detected_at]),
            np.array([COVERT_MODES.index(event.covert_mode or "human_exfiltration")]))
