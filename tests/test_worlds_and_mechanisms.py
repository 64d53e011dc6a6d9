"""Issue 20: unknowns of the world are world parameters, no arrangement ships twice, controls act."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from sim.config.checks import same_parameters
from sim.config.loader import LoadedConfig, load_config
from sim.experiment.explore import dimensions_of
from sim.experiment.replications import ScenarioResult, run_scenarios
from sim.model.slow.holdings import deletion_days, deletion_residue

ROOT = Path(__file__).resolve().parents[1]
ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))
SEED = 11


def load(name: str, *sets: tuple[str, str]) -> LoadedConfig:
    """Load a shipped arrangement by name with --set style overrides."""
    return load_config(ROOT / "configs" / "arrangements" / f"{name}.toml",
                       [(key, value, "--set") for key, value in sets])


def values(result: ScenarioResult, metric: str) -> list[float]:
    """Return one metric's value in every replication."""
    return [rep.metrics[metric] for rep in result.replications]


def test_a_deletion_ends_where_its_world_quantile_places_it() -> None:
    """The median world ends at median_days; quantiles move the end along the lognormal, both ways."""
    spec = load("oracle").config.deletions[0]
    assert deletion_days(spec) == pytest.approx(spec.median_days)
    early = spec.model_copy(update={"duration_quantile": 0.1})
    late = spec.model_copy(update={"duration_quantile": 0.9})
    assert deletion_days(early) < spec.median_days < deletion_days(late)
    assert math.log(deletion_days(late) / spec.median_days) == pytest.approx(spec.sigma * 1.2815515655446004)


def test_a_deletion_stalls_in_the_share_of_worlds_its_probability_says() -> None:
    """Stalled exactly when the world's stall quantile falls below incomplete_probability."""
    spec = load("oracle").config.deletions[0]
    assert deletion_residue(spec) == 0.0  # the stated world: the likelier outcome, completion
    grid = [i / 1000 for i in range(1000)]
    stalled = sum(deletion_residue(spec.model_copy(update={"stall_quantile": q})) > 0 for q in grid)
    assert stalled / len(grid) == pytest.approx(spec.incomplete_probability, abs=1e-3)


def test_explore_samples_the_deletion_world_quantiles() -> None:
    """Explore spends a dimension on each deletion's date and stall, so worlds differ in them."""
    keys = {d.path for d in dimensions_of([load("oracle")])}
    assert {"deletions.0.duration_quantile", "deletions.0.stall_quantile"} <= keys


@pytest.mark.slow
@pytest.mark.unmeasured
def test_replications_of_one_world_share_the_deletion() -> None:
    """Data at rest abroad follows the deletion alone, so it is the same in every replication."""
    [result] = run_scenarios([load("oracle", ("scenario.days", "200"))], SEED, 3, workers=1)
    days = values(result, "at_rest_abroad.record_days")
    assert len(set(days)) == 1
    [late] = run_scenarios([load("oracle", ("scenario.days", "200"), ("deletions.0.duration_quantile", "0.9"))],
                           SEED, 3, workers=1)
    assert all(b > a for a, b in zip(days, values(late, "at_rest_abroad.record_days"), strict=True))


def test_no_two_shipped_arrangements_resolve_to_the_same_parameters() -> None:
    """No arrangement ships twice under two names."""
    assert same_parameters([load_config(p) for p in ARRANGEMENTS]) == []


def test_a_renamed_copy_is_reported_as_the_same_arrangement(tmp_path: Path) -> None:
    """Two configs that differ only in their names are flagged, naming both."""
    copy = tmp_path / "copy.toml"
    copy.write_text(f'include = "{(ROOT / "configs" / "arrangements" / "google.toml").as_posix()}"\n'
                    '[scenario]\nname = "google_again"\ntitle = "Same, renamed"\n')
    notes = same_parameters([load("google"), load_config(copy)])
    assert len(notes) == 1 and "google_again" in notes[0] and "'google'" in notes[0]


@pytest.mark.slow
@pytest.mark.unmeasured
def test_no_two_shipped_arrangements_give_the_same_results() -> None:
    """Every pair of shipped arrangements differs in some output of a short run."""
    loaded = [load_config(p, [("scenario.days", "150", "--days")]) for p in ARRANGEMENTS]
    results = run_scenarios(loaded, SEED, 1, workers=1)
    rows = {r.loaded.name: r.replications[0].metrics for r in results}
    for (a, ma), (b, mb) in itertools.combinations(rows.items(), 2):
        assert ma != mb, f"{a} and {b} give the same results"


def test_export_sizes_stop_at_the_ceiling_and_keep_their_order() -> None:
    """Truncation maps draws monotonically into the cited range, and changes nothing without a ceiling."""
    from sim.model.slow.covert import bounded_normal

    draws = [-3.0, -1.0, 0.0, 1.0, 1.6, 3.0, 6.0]
    mapped = [bounded_normal(z, 200_000, 1.0, 999_999) for z in draws]
    assert mapped == sorted(mapped)
    assert all(200_000 * math.exp(z) <= 999_999 for z in mapped)
    assert [bounded_normal(z, 200_000, 1.0, None) for z in draws] == draws


@pytest.mark.slow
@pytest.mark.unmeasured
def test_covert_exports_need_reach_microsoft_falls_once_copies_abroad_are_gone() -> None:
    """With no insider, Microsoft's covert exports stop when the copies the parent holds keys to are deleted."""
    sets = (("controls.insider_export_share", "0"), ("scenario.days", "730"))
    [result] = run_scenarios([load("microsoft", *sets)], SEED, 2, workers=1)
    for rep in result.replications:
        m = rep.metrics
        assert m["by_year.2022.residual_access.by_channel.covert.events"] > 0  # copies abroad still held
        assert m["by_year.2023.residual_access.by_channel.covert.events"] == 0
        assert m["controls.covert_without_reach"] > 0
    [insider] = run_scenarios([load("microsoft", ("controls.insider_export_share", "1"), sets[1])], SEED, 2,
                              workers=1)
    assert values(insider, "controls.covert_without_reach") == [0, 0]
    human = "covert.human_exfiltration.events"
    assert sum(values(insider, human)) > sum(values(result, human))


def test_validate_notes_where_the_site_order_decides() -> None:
    """Without the key holder's release, Google reaches plaintext and ciphertext through one gate: the order decides."""
    from sim.config.checks import order_notes

    [note] = order_notes(load("google_access_controls", ("routes.1.gate", "parent")))
    assert "google_us (ciphertext)" in note and "site order" in note
    assert order_notes(load("google_access_controls")) == []  # the release gate, not the order, decides
    assert order_notes(load("oracle")) == [] and order_notes(load("status_quo")) == []


def test_google_access_controls_brackets_the_singapore_route_as_oracle_does() -> None:
    """The Singapore route is an alternative (parent or blocked) explore samples, in both arrangements."""
    for name in ("google_access_controls", "oracle"):
        loaded = load(name)
        [path] = [p for p, alt in loaded.alternatives.items() if p.startswith("routes.")]
        assert loaded.alternatives[path].choices == ("parent", "blocked")
        route = loaded.config.routes[int(path.split(".")[1])]
        assert (route.actor, route.site) == ("cn_engineers", "singapore")


def test_a_ranged_independence_without_a_parent_is_warned_about(tmp_path: Path) -> None:
    """A declared control that cannot act is a warning, naming the key."""
    from sim.config.checks import warnings

    path = tmp_path / "gac.toml"
    base = (ROOT / "configs" / "arrangements" / "google_access_controls.toml").as_posix()
    path.write_text(f'include = "{base}"\n'
                    '[scenario]\nname = "gac_ranged"\n[organisations.lone_holder]\n'
                    'jurisdiction = { value = "US", assume = "x" }\n'
                    'independence = { value = 1.0, range = [0.8, 1.0], assume = "x" }\n')
    [note] = [n for n in warnings(load_config(path)) if "independence" in n]
    assert "organisations.lone_holder.independence" in note and "cannot act" in note
    assert not [n for n in warnings(load("google_access_controls")) if "independence" in n]


#: Declared controls and behaviours, the output each acts on, and the direction a higher value moves it.
#: Each is moved to both ends of its declared range in every shipped arrangement that ranges it.
METAMORPHIC = {
    "controls.egress_monitoring_share": ("covert.human_exfiltration.events", -1),
    "controls.code_review_coverage": ("covert.code_borne.events", -1),
    "controls.gateway_deidentify_share": ("controls.deidentified", +1),
    "controls.insider_export_share": ("covert.human_exfiltration.events", +1),
    "actors.cn_engineers.covert_attempts_per_year": ("controls.covert_attempts", +1),
    "gatekeeper.false_approval": ("residual_access.by_channel.approved_in_error.events", +1),
    "organisations.usds.independence": ("residual_access.by_channel.parent_override.events", -1),
    "organisations.us_key_holder.independence": ("residual_access.by_channel.parent_override.events", -1),
    "gatekeeper.false_denial": ("requests.denied", +1),
    "gatekeeper.reviewers": ("friction.wait_hours", -1),
    "gatekeeper.review_hours_mean": ("friction.decision_hours", +1),
    "gatekeeper.expiry_hours": ("requests.expired", -1),
    "deletions.0.duration_quantile": ("at_rest_abroad.record_days", +1),
}
#: Where a control is declared but cannot act, and why (the config marks it so in its `assume`).
INERT = {
    ("oracle", "controls.insider_export_share"): "a steward route always leads to plaintext",
    ("microsoft", "gatekeeper.false_approval"): "every China route to protected data is blocked (config's assume)",
    ("google_access_controls", "gatekeeper.expiry_hours"): "no release request waits a day at the shipped load "
                                                            "(config's range_assume)",
}


@pytest.mark.slow
@pytest.mark.unmeasured
@pytest.mark.parametrize("path", ARRANGEMENTS, ids=lambda p: p.stem)
def test_every_declared_control_moves_its_output_the_stated_way(path: Path) -> None:
    """Metamorphic: each declared control at the low and the high end of its range moves its output as stated."""
    base = load_config(path)
    for key, (metric, direction) in METAMORPHIC.items():
        spread = base.ranges.get(key)
        if spread is None or spread.low == spread.high or (path.stem, key) in INERT:
            continue
        # Insiders act only once no plaintext is in reach (after the copies abroad are gone); rare
        # code-borne attempts are made frequent enough that a tenth of them is seen.
        days = "1461" if key.endswith("insider_export_share") else "540"
        power = [("actors.cn_engineers.code_covert_attempts_per_year", "40", "--set")] if "code_review" in key else []
        ends = [load_config(path, [(key, repr(end), "--set"), ("scenario.days", days, "--days"), *power])
                for end in (spread.low, spread.high)]
        low, high = (sum(values(r, metric)) for r in run_scenarios(ends, SEED, 2, workers=1))
        assert (high - low) * direction > 0, f"{path.stem}: {key} {spread.low}->{spread.high} moved {metric} " \
                                             f"from {low} to {high}"


@pytest.mark.slow
@pytest.mark.unmeasured
def test_the_key_holders_release_is_a_gate_its_independence_acts() -> None:
    """Google with access controls: China's reads at the Google site queue for the key holder's release.

    The release is reviewed (a queue, so the time to decision exceeds the parent's own approval),
    a denied release is pressed through the US company with a chance that falls with the key
    holder's independence, and reads that bypass the release at a keyed site are counted as
    ciphertext grants, not plaintext.
    """
    days = ("scenario.days", "120")
    gated, pressed, firm = run_scenarios([
        load("google_access_controls", days),
        load("google_access_controls", days, ("organisations.us_key_holder.independence", "0.0")),
        load("google_access_controls", days, ("organisations.us_key_holder.independence", "1.0"))], SEED, 1, workers=1)
    [parent_only] = run_scenarios([load("google_access_controls", days, ("routes.1.gate", "parent"))], SEED, 1,
                                  workers=1)
    m, p = gated.replications[0].metrics, parent_only.replications[0].metrics
    assert m["friction.reviewed"] > 0 and p["friction.reviewed"] == 0
    assert m["friction.decision_hours"] > p["friction.decision_hours"]
    assert m["requests.ciphertext_grants"] == 0 < p["requests.ciphertext_grants"] <= p["requests.granted"]
    override = "residual_access.by_channel.parent_override.events"
    assert values(firm, override) == [0] and values(pressed, override)[0] > 0
    assert values(pressed, "residual_access.events")[0] > values(firm, "residual_access.events")[0]


@pytest.mark.slow
@pytest.mark.unmeasured
def test_the_site_order_is_a_ranged_behaviour_that_moves_reads_to_the_backup() -> None:
    """role_order is an alternative explore samples; trying the backup first moves reads to the copy abroad."""
    loaded = load("status_quo")
    assert "backup,legacy,primary" in loaded.alternatives["actors.cn_engineers.role_order"].choices
    days = ("scenario.days", "60")
    backup_first = ("actors.cn_engineers.role_order", "backup,legacy,primary")
    live, backup = run_scenarios([load("status_quo", days), load("status_quo", days, backup_first)],
                                 SEED, 1, workers=1)
    abroad = "residual_access.by_channel.legacy_or_backup_abroad.events"
    assert values(backup, abroad)[0] > values(live, abroad)[0]


def test_a_role_order_that_misses_a_role_is_a_config_error() -> None:
    """A site order must name every role once."""
    from sim.errors import InputError

    with pytest.raises(InputError, match="role_order"):
        load("status_quo", ("actors.cn_engineers.role_order", "primary,backup"))


@pytest.mark.slow
@pytest.mark.unmeasured
def test_falling_back_after_ciphertext_is_a_ranged_share() -> None:
    """Where Google holds the keys, requesters who route around keys read the parent's copies instead of ciphertext."""
    google_keys = ("sites.google_us.key_custody", "google")
    share = "actors.cn_engineers.routes_around_keys_share"
    assert load("google").ranges[share].high == 1.0
    runs = run_scenarios([load("google", google_keys, ("scenario.days", "200"), (share, value))
                          for value in ("0.0", "0.5", "1.0")], SEED, 1, workers=1)
    residual = [values(r, "residual_access.events")[0] for r in runs]
    ciphertext = [values(r, "requests.ciphertext_grants")[0] for r in runs]
    assert residual[0] < residual[1] < residual[2]
    assert ciphertext[0] > ciphertext[1] > ciphertext[2]


def test_a_key_release_route_must_lead_to_the_gatekeepers_keys() -> None:
    """A release by a gatekeeper that does not hold the site's keys is a config error naming the route."""
    from sim.errors import InputError

    with pytest.raises(InputError, match=r"routes\.2\.gate.*singapore's keys are held by 'bytedance'"):
        load("google_access_controls", ("routes.2.gate", "key_release"))


def test_one_route_uniform_settles_the_order_and_the_fallback_in_the_stated_shares() -> None:
    """On an even grid of route uniforms each table is taken in the share its parameters give, alike on both forms."""
    import numpy as np

    from sim.model.rulebook.rules import route_variants

    u = (np.arange(10_000) + 0.5) / 10_000
    codes = route_variants(u, 0.6, 0.25, True, True)
    assert [float(np.mean(codes == k)) for k in range(4)] == pytest.approx([0.45, 0.3, 0.15, 0.1], abs=1e-3)
    assert [route_variants(float(x), 0.6, 0.25, True, True) for x in u[::97]] == codes[::97].tolist()
    assert set(route_variants(u, 0.6, 0.25, False, True).tolist()) == {0, 2}
    assert set(route_variants(u, 0.6, 0.25, True, False).tolist()) == {0, 1}
