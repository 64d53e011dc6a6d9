"""Route behaviour, key custody and the grant/site accounting of residual access (issue 9)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from conftest import ROOT, LogObserver, write_config

from sim.config.loader import load_config, with_overrides
from sim.experiment.replications import run_replication
from sim.model.event.world import World
from sim.model.rng import Streams
from sim.model.rulebook.events import GRANTS, Accessed, Shielded
from sim.model.rulebook.routing import deciding_choices, deciding_routes

WORLD = """
[scenario]
name = "routes"
provenance = { assume = "test world" }
days = 2

[organisations.parentco]
provenance = { assume = "test world" }
jurisdiction = "CN"

[organisations.stewards]
provenance = { assume = "test world" }
jurisdiction = "US"
parent = "parentco"
independence = 1.0

[organisations.keyholder]
provenance = { assume = "test world: a US party the parent does not own" }
jurisdiction = "US"

[data.protected]
records = { value = 1000, assume = "test world" }

[sites.primary]
provenance = { assume = "test world" }
jurisdiction = "US"
operator = "stewards"
role = "primary"
key_custody = "stewards"
holdings = { protected = 1.0 }

[sites.legacy]
provenance = { assume = "test world" }
jurisdiction = "US"
operator = "parentco"
role = "legacy"
key_custody = "parentco"
holdings = { protected = 0.0 }

[sites.backup]
provenance = { assume = "test world" }
jurisdiction = "SG"
operator = "parentco"
role = "backup"
key_custody = "parentco"
holdings = { protected = 0.0 }

[actors.engineers]
provenance = { assume = "test world: no random requests, only injected ones" }
location = "CN"
employer = "parentco"
headcount = 0
requests_per_hour = 0.0
purposes = { support = 0.5, incident = 0.5 }
data_classes = { protected = 1.0 }

[parent_approval]
provenance = { assume = "test world" }
approve_probability = 1.0

[gatekeeper]
provenance = { assume = "test world" }
organisation = "stewards"
reviewers = 1
review_distribution = "exponential"
policy = { support = ["protected"], incident = [] }
emergency_purposes = ["incident"]

[controls]
provenance = { assume = "test world" }
audit_detect_probability = 1.0

[[routes]]
provenance = { assume = "test world" }
actor = "engineers"
site = "primary"
gate = "steward"
[[routes]]
provenance = { assume = "test world" }
actor = "engineers"
site = "legacy"
gate = "parent"
[[routes]]
provenance = { assume = "test world" }
actor = "engineers"
site = "backup"
gate = "parent"
"""


def world(tmp_path: Path, overrides: Sequence[tuple[str, str]] = ()) -> tuple[World, LogObserver]:
    """Build one replication of the test world with `--set` overrides."""
    loaded = load_config(write_config(tmp_path, WORLD), [(k, v, "--set") for k, v in overrides])
    observer = LogObserver()
    return World(loaded.config, Streams(0, 0), observer), observer


def reads(observer: LogObserver) -> list[Accessed]:
    """Return the residual reads the observer saw."""
    return [e for e in observer.events if isinstance(e, Accessed) and e.channel is not None]


def test_the_same_parent_approved_read_has_the_same_grant_at_home_and_abroad(tmp_path: Path) -> None:
    """A parent-approved read gets the same grant and the same impropriety at a US and a foreign site."""
    labels = []
    for site in ("legacy", "backup"):
        w, observer = world(tmp_path, [("sites.primary.holdings.protected", "0.0"),
                                       (f"sites.{site}.holdings.protected", "1.0")])
        w.inject("engineers", "support", "protected")
        w.run()
        [read] = reads(observer)
        assert read.site == site
        labels.append((read.grant, read.improper, read.detected_at is not None))
    assert labels[0] == labels[1] == ("parent_approval", True, True)


def test_parent_approval_is_proper_where_it_is_the_only_gate(tmp_path: Path) -> None:
    """Without a gatekeeper the parent's approval is the policy, at home and abroad alike."""
    path = write_config(tmp_path, WORLD.split("[gatekeeper]")[0] + "[[routes]]" +
                        WORLD.split("[[routes]]", 2)[2])
    loaded = load_config(path, [("sites.backup.holdings.protected", "1.0", "--set"),
                                ("sites.primary.holdings.protected", "0.0", "--set")])
    observer = LogObserver()
    w = World(loaded.config, Streams(0, 0), observer)
    w.inject("engineers", "support", "protected")
    w.run()
    [read] = reads(observer)
    assert (read.grant, read.improper, read.detected_at) == ("parent_approval", False, None)


def test_emergency_grant_outside_policy_is_improper_and_audited(tmp_path: Path) -> None:
    """An emergency read of a class its purpose does not allow is improper, and the audit finds it."""
    w, observer = world(tmp_path, [("routes.1.gate", "blocked"), ("routes.2.gate", "blocked")])
    w.inject("engineers", "incident", "protected")
    w.run()
    [read] = reads(observer)
    assert (read.grant, read.channel, read.improper) == ("emergency", "emergency_path", True)
    assert read.detected_at is not None


def test_ciphertext_where_the_other_side_holds_the_keys(tmp_path: Path) -> None:
    """A parent-approved read at a site whose keys an independent party holds yields ciphertext."""
    keyed = [("sites.primary.holdings.protected", "0.0"), ("sites.legacy.holdings.protected", "1.0"),
             ("sites.legacy.key_custody", "keyholder")]
    w, observer = world(tmp_path, keyed)
    w.inject("engineers", "support", "protected")
    w.run()
    assert reads(observer) == []
    [shield] = [e for e in observer.events if isinstance(e, Shielded)]
    assert (shield.how, shield.site, shield.records) == ("ciphertext", "legacy", 1.0)


def test_routing_around_keys_moves_the_read_instead(tmp_path: Path) -> None:
    """A group that routes around keys skips the keyed site for a readable one: no ciphertext."""
    keyed = [("sites.legacy.holdings.protected", "1.0"), ("sites.legacy.key_custody", "keyholder")]
    plain, plain_log = world(tmp_path, keyed)
    around, around_log = world(tmp_path, [*keyed, ("actors.engineers.routes_around_keys", "true")])
    for w in (plain, around):
        w.inject("engineers", "support", "protected")
        w.run()
    assert [e.how for e in plain_log.events if isinstance(e, Shielded)] == ["ciphertext"]
    assert [(r.site, r.grant) for r in reads(around_log)] == [("primary", "policy")]


def test_route_choice_orders_the_candidates(tmp_path: Path) -> None:
    """Least resistance tries the parent's backup first; preferred site tries the primary first."""
    least, _ = world(tmp_path)
    preferred, _ = world(tmp_path, [("actors.engineers.route_choice", "preferred_site")])
    assert least.actors_by_name["engineers"].candidates["protected"][0] == ("legacy", "parent")
    assert preferred.actors_by_name["engineers"].candidates["protected"][0] == ("primary", "steward")


def test_route_share_sends_that_share_the_weakest_way(tmp_path: Path) -> None:
    """With route_choice = share, the share of requests taking the parent's route is binomial."""
    w, _ = world(tmp_path, [("actors.engineers.route_choice", "share"),
                            ("actors.engineers.least_resistance_share", "0.3"),
                            ("sites.backup.holdings.protected", "1.0")])
    gates = [w.inject("engineers", "support", "protected").gate for _ in range(4000)]
    share = gates.count("parent") / len(gates)
    assert abs(share - 0.3) < 4 * (0.3 * 0.7 / len(gates)) ** 0.5
    assert set(gates) == {"parent", "steward"}


def test_grants_and_sites_each_add_up_to_all_residual_access() -> None:
    """By grant, by site and by channel are three partitions of the same residual accesses."""
    loaded = with_overrides(load_config(ROOT / "configs" / "arrangements" / "oracle.toml"),
                            [("scenario.days", "30", "test")])
    metrics = run_replication(loaded.config, 1, 0).metrics
    total = metrics["residual_access.events"]
    assert total > 0
    for prefix, names in (("by_grant", GRANTS), ("by_site", tuple(loaded.config.sites))):
        for leaf in ("events", "records"):
            parts = sum(metrics[f"residual_access.{prefix}.{n}.{leaf}"] for n in names)
            assert abs(parts - metrics[f"residual_access.{leaf}"]) <= 1e-9 * max(1.0, parts)


def test_facts_marks_the_routes_and_choices_that_decide() -> None:
    """Oracle's Singapore route and China's route choice decide; a blocked route never does."""
    oracle = load_config(ROOT / "configs" / "arrangements" / "oracle.toml").config
    closed = load_config(ROOT / "configs" / "arrangements" / "oracle_no_singapore_route.toml").config
    assert {oracle.routes[i].site for i in deciding_routes(oracle)} == {"*", "singapore"}
    assert "cn_engineers.route_choice" in deciding_choices(oracle)
    assert all(closed.routes[i].gate != "blocked" for i in deciding_routes(closed))
    assert "cn_engineers.route_choice" not in deciding_choices(closed)
