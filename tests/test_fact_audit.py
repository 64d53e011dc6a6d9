"""Citations that hold the number: the fact base's quantities, the audit and the delay fit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import FACTS, MMC, ROOT, run_cli, write_config
from scipy import stats

from sim.config.audit import audit
from sim.config.detection_fit import fit_detection_delay, geometric_centre, incident_facts, lognormal_cdf
from sim.config.facts import Fact, Incident, load_facts
from sim.config.loader import LoadedConfig, load_config
from sim.config.paths import get_path
from sim.errors import InputError

SHIPPED = [*sorted((ROOT / "configs" / "arrangements").glob("*.toml")), MMC]

PLANTED = MMC.read_text(encoding="utf-8").replace(
    "reviewers = 10\n", 'reviewers = { value = 10, fact = "usds-headcount-2023" }\n'
).replace(
    "review_hours_mean = 1.0\n",
    'review_hours_mean = 1.0\nexpiry_hours = { value = 96, fact = "azure-lockbox-expiry" }\n',
)


@pytest.mark.slow
@pytest.mark.unmeasured
def test_every_shipped_config_passes_the_audit() -> None:
    """Each shipped arrangement and the validation config cite only facts that hold their numbers."""
    for path in SHIPPED:
        result = audit(load_config(path))
        assert result.findings == (), [(f.key, f.value, f.facts) for f in result.findings]
    done = run_cli("facts", "--audit", *SHIPPED)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("all ") and "citations hold" in done.stdout


def test_audit_catches_a_planted_bad_citation(tmp_path: Path) -> None:
    """10 reviewers citing a headcount of 1,500 is a finding; 96 hours citing 4 days is not."""
    path = write_config(tmp_path, PLANTED)
    [finding] = audit(load_config(path)).findings
    assert (finding.key, finding.value, finding.facts) == ("gatekeeper.reviewers", 10.0, ("usds-headcount-2023",))
    assert "1,500 people" in finding.states and "1,500" in finding.fix and "assume" in finding.fix
    done = run_cli("facts", "--audit", path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert str(path) in done.stdout and "gatekeeper.reviewers = 10" in done.stdout
    assert "usds-headcount-2023" in done.stdout and "1 citation(s) do not hold" in done.stdout


def test_audit_flags_a_fact_without_the_number_and_a_unit_that_does_not_convert(tmp_path: Path) -> None:
    """A fact stating no number, or only numbers of another kind, does not hold a value."""
    text = PLANTED.replace('{ value = 10, fact = "usds-headcount-2023" }', "10").replace(
        'fact = "azure-lockbox-expiry"', 'fact = "gcp-pam-expiry"'
    ).replace("requests_per_hour = 8.0", 'requests_per_hour = { value = 8.0, fact = "oracle-controls-gateways" }')
    findings = {f.key: f for f in audit(load_config(write_config(tmp_path, text))).findings}
    assert set(findings) == {"gatekeeper.expiry_hours", "actors.requesters.requests_per_hour"}
    assert "24 hours" in findings["gatekeeper.expiry_hours"].states
    assert "no number" in findings["actors.requesters.requests_per_hour"].states


def test_audit_names_the_included_file_that_sets_the_parameter() -> None:
    """A finding in the shared world is reported against world.toml, not the arrangement."""
    result = audit(load_config(ROOT / "configs" / "arrangements" / "oracle.toml"))
    assert result.checked > 10
    from sim.config.audit import origin_files

    origins = origin_files(ROOT / "configs" / "arrangements" / "oracle.toml")
    assert origins["data.protected.records"].endswith("configs/common/world.toml")
    assert origins["controls.audit_delay_sigma"].endswith("configs/arrangements/oracle.toml")


@pytest.mark.slow
def test_audit_bad_input_exits_2(tmp_path: Path) -> None:
    """A missing config or no config at all is bad input: exit 2 with one paragraph."""
    missing = run_cli("facts", "--audit", tmp_path / "nope.toml")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    nothing = run_cli("facts", "--audit")
    assert nothing.returncode == 2 and "no config" in nothing.stderr


def test_a_malformed_quantity_is_an_input_error(tmp_path: Path) -> None:
    """A quantity without a unit, or with a reversed range, names the fact entry and the fix."""
    path = write_config(tmp_path, MMC.read_text(encoding="utf-8"))
    facts = tmp_path / "seeds" / "facts.toml"
    facts.write_text(facts.read_text(encoding="utf-8").replace(
        'quantity = { value = 1_500, unit = "people"', 'quantity = { range = [1_500, 1], unit = "people"'),
        encoding="utf-8")
    with pytest.raises(InputError, match="quantity is malformed") as caught:
        load_config(path)
    assert caught.value.key is not None and caught.value.key.endswith(".quantity.0")


def test_each_incident_states_the_delay_its_dates_allow() -> None:
    """The delay range an incident states is the one its access and disclosure dates give."""
    incidents = incident_facts(load_facts(FACTS))
    assert len(incidents) == 4
    for fact in incidents:
        assert fact.incident is not None
        lo, hi = fact.incident.delay_days()
        stated = [(q.low, q.high) for q in fact.quantities if q.unit == "days" and "disclosure" in q.of]
        assert stated == [(lo, hi)], fact.id


def _planted_incident(index: int, lo_day: int, hi_day: int) -> Fact:
    import datetime as dt

    day0 = dt.date(2020, 1, 1)
    access = (day0, day0)
    disclosed = (day0 + dt.timedelta(days=lo_day), day0 + dt.timedelta(days=hi_day))
    return Fact(f"planted-{index}", "planted", None, "test", "test", None, (),
                Incident(access, disclosed))


@pytest.mark.slow
def test_fit_recovers_a_known_lognormal() -> None:
    """Narrow intervals at the quantiles of LN(median 100 d, sigma 0.5) give back those values."""
    n = 60  # the quantiles of the law, so the fit is exact up to the day-wide intervals
    delays = [100 * math.exp(0.5 * stats.norm.ppf((i + 0.5) / n)) for i in range(n)]
    planted = [_planted_incident(i, math.floor(d), math.floor(d) + 1) for i, d in enumerate(delays)]
    fit = fit_detection_delay(planted)
    assert fit.median_days == pytest.approx(100, rel=0.03)
    assert fit.sigma == pytest.approx(0.5, rel=0.05)


def test_shipped_delays_are_the_fit_and_keep_the_cases_out_of_the_tails() -> None:
    """The configs' audit delay reproduces the fit; no public case lies in a 1% tail of any of them."""
    fit = fit_detection_delay(incident_facts(load_facts(FACTS)))
    status_quo = load_config(ROOT / "configs" / "arrangements" / "status_quo.toml").config.controls
    assert status_quo.audit_delay_days_median == pytest.approx(fit.median_days, rel=0.05)
    assert status_quo.audit_delay_sigma == pytest.approx(fit.sigma, rel=0.05)
    for path in SHIPPED[:-1]:
        controls = load_config(path).config.controls
        for interval in fit.intervals:
            q = lognormal_cdf(geometric_centre(interval), controls.audit_delay_days_median,
                              controls.audit_delay_sigma)
            assert 0.01 < q < 0.99, (path.name, interval, q)


@pytest.mark.slow
def test_fit_detection_command_prints_the_parameters() -> None:
    """`residency facts --fit-detection` reproduces the fitted median and sigma from the facts."""
    fit = fit_detection_delay(incident_facts(load_facts(FACTS)))
    done = run_cli("facts", "--fit-detection", ROOT / "configs" / "arrangements" / "status_quo.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"audit_delay_days_median = {fit.median_days:.1f}" in done.stdout
    assert f"audit_delay_sigma = {fit.sigma:.3f}" in done.stdout
    assert "incident-spreadsheets-2022" in done.stdout


def test_a_range_cited_to_a_fact_must_lie_within_what_it_states(tmp_path: Path) -> None:
    """A range inheriting a fact's citation is audited at both ends; a judged range is not."""
    text = MMC.read_text(encoding="utf-8").replace(
        "reviewers = 10\n",
        'reviewers = { value = 300, range = [200, 1500], fact = "stewardship-team-hundreds" }\n',
    )
    [finding] = audit(load_config(write_config(tmp_path, text))).findings
    assert (finding.key, finding.value) == ("gatekeeper.reviewers.range.high", 1500.0)
    judged = text.replace("range = [200, 1500], ", 'range = [200, 1500], range_assume = "judgement", ')
    assert audit(load_config(write_config(tmp_path, judged, "judged.toml"))).findings == ()


def test_every_numeric_assumption_of_the_shipped_arrangements_has_a_range() -> None:
    """Each assumed number in the world and the arrangements says which other values are plausible."""
    for path in SHIPPED[:-1]:
        loaded = load_config(path)
        data = loaded.config.model_dump(mode="python")
        for key, prov in loaded.provenance.items():
            value = get_path(data, key)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if prov.kind == "assume" and numeric and not key.startswith("scenario."):
                assert key in loaded.ranges or cannot_act(loaded, key), (path.name, key)


def cannot_act(loaded: LoadedConfig, key: str) -> bool:
    """Return True for an independence with no parent to act against (`validate` refuses a range there),
    or a fallback share where no open route leads to ciphertext (the config says it is inert)."""
    from sim.model.rulebook.routing import deciding_choices

    parts = key.split(".")
    if parts[0] == "actors" and parts[-1] == "routes_around_keys_share":
        assert f"{parts[1]}.routes_around_keys_share" not in deciding_choices(loaded.config), key
        assert "inert" in loaded.provenance[key].detail, key
        return True
    if parts[0] != "organisations" or parts[-1] != "independence":
        return False
    assert loaded.config.organisations[parts[1]].parent is None
    assert "cannot act" in loaded.provenance[key].detail, key  # the assumption says so
    return True


def test_audit_fails_a_date_its_fact_does_not_state(tmp_path: Path) -> None:
    """Microsoft's deletion start cited to an undated statement is a finding; the shipped assumption is not."""
    ms = ROOT / "configs" / "arrangements" / "microsoft.toml"
    assert not [f for f in audit(load_config(ms)).findings if f.key.endswith(".start")]
    text = ms.read_text(encoding="utf-8").replace(
        'include = "../common/world.toml"', f'include = "{(ROOT / "configs" / "common" / "world.toml").as_posix()}"')
    start = text.index("start = { value = 2022-10-15")
    planted = (text[:start] + 'start = { value = 2022-10-15, fact = "microsoft-delete-copies-abroad" }'
               + text[text.index("\n", start):])
    path = tmp_path / "microsoft.toml"
    path.write_text(planted, encoding="utf-8")
    [finding] = [f for f in audit(load_config(path)).findings if f.key.endswith(".start")]
    assert finding.key == "deletions.0.start" and str(finding.value) == "2022-10-15"
    assert "2020-08-02" in finding.states and "assume" in finding.fix
