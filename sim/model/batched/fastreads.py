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

    def covert(self, reported: list[float], first: int, events: list[Accessed]) -> Reads:
        """Return covert reads the slow processes reported (at `reported`), as rows numbered from `first` on."""
        n = len(events)
        return Reads(
            np.array(reported, dtype=float), np.arange(first, first + n), np.array([e.t for e in events], dtype=float),
            np.full(n, ACCESS), np.array([e.records for e in events], dtype=float),
            np.array([self.sites.index(e.site) for e in events], dtype=np.int64),
            np.array([CHANNELS.index(e.channel or "covert") for e in events], dtype=np.int64),
            np.array([GRANTS.index(e.grant or "covert") for e in events], dtype=np.int64),
            np.array([self.classes.index(e.data_class) for e in events], dtype=np.int64),
            np.array([e.improper for e in events], dtype=bool),
            np.array([math.nan if e.detected_at is None else e.detected_at for e in events], dtype=float),
            np.array([COVERT_MODES.index(e.covert_mode or "human_exfiltration") for e in events], dtype=np.int64))
