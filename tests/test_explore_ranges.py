"""Ranges and alternatives on config entries: recorded with their provenance, replaced whole, checked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import MMC, ROOT, write_config

from sim.config.loader import load_config
from sim.config.ranges import Alternatives, Range
from sim.errors import InputError
from sim.experiment.explore import dimensions_of

MMC_TEXT = MMC.read_text(encoding="utf-8")
REVIEWERS = "reviewers = 10"
RATE = "requests_per_hour = 8.0"


def mmc_with(tmp_path: Path, *edits: tuple[str, str], name: str = "config.toml") -> Path:
    """Write mmc.toml with (old, new) replacements into tmp_path and return its path."""
    text = MMC_TEXT
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return write_config(tmp_path, text, name)


def test_range_is_recorded_with_its_provenance(tmp_path: Path) -> None:
    path = mmc_with(tmp_path, (REVIEWERS, 'reviewers = { value = 10, range = [8, 14], assume = "a guess" }'),
                    (RATE, 'requests_per_hour = { value = 8.0, range = [4.0, 16.0], distribution = "loguniform", '
                           'fact = "usds-headcount-2023", range_assume = "judgement: a factor of two" }'))
    loaded = load_config(path)
    assert loaded.config.gatekeeper is not None and loaded.config.gatekeeper.reviewers == 10
    reviewers = loaded.ranges["gatekeeper.reviewers"]
    assert (reviewers.low, reviewers.high, reviewers.distribution, reviewers.integer) == (8, 14, "uniform", True)
    assert reviewers.cite == "assumption: a guess" and reviewers.source == str(path)
    rate = loaded.ranges["actors.requesters.requests_per_hour"]
    assert (rate.distribution, rate.integer) == ("loguniform", False)
    assert rate.cite == "assumption: judgement: a factor of two"
    assert loaded.provenance["actors.requesters.requests_per_hour"].kind == "fact"
    assert "range [4, 16] loguniform" in loaded.provenance["actors.requesters.requests_per_hour"].describe(loaded.facts)


def test_range_quantiles_cover_the_interval() -> None:
    uniform = Range(2.0, 6.0, "uniform", 3.0, False, "f", "c")
    assert (uniform.at(0.0), uniform.at(0.25), uniform.at(1.0)) == (2.0, 3.0, 6.0)
    log = Range(1.0, 100.0, "loguniform", 10.0, False, "f", "c")
    assert log.at(0.5) == pytest.approx(10.0) and log.quantile_of(10.0) == pytest.approx(0.5)
    tri = Range(0.0, 4.0, "triangular", 1.0, False, "f", "c")
    assert tri.at(0.25) == pytest.approx(1.0) and tri.quantile_of(tri.at(0.8)) == pytest.approx(0.8)
    assert Range(1.0, 9.0, "uniform", 5.0, True, "f", "c").at(0.33) == 4


def test_alternatives_are_recorded(tmp_path: Path) -> None:
    path = mmc_with(tmp_path, ('review_distribution = "exponential"',
                               'review_distribution = { value = "exponential", alternatives = ["exponential", '
                               '"lognormal"], assume = "either shape is plausible" }'))
    choices = load_config(path).alternatives["gatekeeper.review_distribution"]
    assert choices == Alternatives(("exponential", "lognormal"), str(path), "assumption: either shape is plausible")
    assert (choices.at(0.2), choices.at(0.7)) == ("exponential", "lognormal")


BASE = '''
[organisations.stewards]
jurisdiction = { value = "US", assume = "test" }
independence = { value = 0.9, range = [0.6, 0.99], assume = "shared world guess" }
'''


@pytest.mark.parametrize(("overlay", "ranged"), [
    ("", True),
    ('\n[organisations.stewards]\nindependence = { value = 0.8, assume = "pinned here" }\n', False),
    ('\n[organisations.stewards]\nindependence = { value = 0.7, range = [0.5, 0.8], assume = "own" }\n', True),
])
def test_an_overlay_replaces_the_entry_whole(tmp_path: Path, overlay: str, ranged: bool) -> None:
    text = re.sub(r"\[organisations\.stewards\]\n(?:[^\[\n][^\n]*\n)*", "", MMC_TEXT)  # the base holds it
    write_config(tmp_path, BASE, "base.toml")
    path = write_config(tmp_path, 'include = "base.toml"\n' + text + overlay)
    loaded = load_config(path)
    assert ("organisations.stewards.independence" in loaded.ranges) is ranged
    if overlay:
        assert loaded.provenance["organisations.stewards.independence"].detail in {"pinned here", "own"}
        if ranged:
            assert loaded.ranges["organisations.stewards.independence"].low == 0.5


def test_set_pins_a_ranged_parameter(tmp_path: Path) -> None:
    path = mmc_with(tmp_path, (REVIEWERS, 'reviewers = { value = 10, range = [8, 14], assume = "a guess" }'))
    loaded = load_config(path, [("gatekeeper.reviewers", "12", "--set")])
    assert "gatekeeper.reviewers" not in loaded.ranges


BAD = [
    ("outside", 'reviewers = { value = 10, range = [11, 14], assume = "x" }', "outside its range"),
    ("infinite", 'reviewers = { value = 10, range = [1, inf], assume = "x" }', "not finite"),
    ("not-a-pair", 'reviewers = { value = 10, range = [1, 5, 20], assume = "x" }', "two numbers"),
    ("log-at-zero", 'reviewers = { value = 10, range = [0, 20], distribution = "loguniform", assume = "x" }',
     "positive low end"),
    ("unknown-distribution", 'reviewers = { value = 10, range = [5, 20], distribution = "normal", assume = "x" }',
     "unknown distribution"),
    ("schema-bound", 'reviewers = { value = 10, range = [0, 20], assume = "x" }', "breaks the schema"),
    ("text-range", 'reviewers = { value = "ten", range = [5, 20], assume = "x" }', "numeric value"),
    ("no-range", 'reviewers = { value = 10, distribution = "uniform", assume = "x" }', "without `range`"),
]


@pytest.mark.parametrize(("name", "entry", "says"), BAD, ids=[case[0] for case in BAD])
def test_bad_ranges_name_file_key_and_fix(tmp_path: Path, name: str, entry: str, says: str) -> None:
    path = mmc_with(tmp_path, (REVIEWERS, entry))
    with pytest.raises(InputError) as caught:
        load_config(path)
    error = caught.value
    assert error.source == str(path) and error.key == "gatekeeper.reviewers"
    assert says in error.problem and error.fix


def test_bad_alternatives_are_errors(tmp_path: Path) -> None:
    for entry, says in [
        ('review_distribution = { value = "exponential", alternatives = ["lognormal"], assume = "x" }',
         "not among"),
        ('review_distribution = { value = "exponential", alternatives = ["exponential", "gamma"], assume = "x" }',
         "breaks the schema"),
    ]:
        path = mmc_with(tmp_path, ('review_distribution = "exponential"', entry))
        with pytest.raises(InputError, match=says):
            load_config(path)


def test_an_entry_two_arrangements_take_is_one_dimension(tmp_path: Path) -> None:
    """A variant that includes an arrangement shares its entries (one value a world); its own are apart."""
    base = mmc_with(tmp_path, (REVIEWERS, 'reviewers = { value = 10, range = [8, 14], assume = "a guess" }'),
                    name="base.toml")
    variant = write_config(tmp_path, 'include = "base.toml"\n[scenario]\nname = "variant"\n'
                           '[gatekeeper]\nreview_hours_mean = { value = 0.15, range = [0.1, 0.2], assume = "own" }\n',
                           "variant.toml")
    dimensions = {d.key: d for d in dimensions_of([load_config(base), load_config(variant)])}
    reviewers = dimensions["gatekeeper.reviewers"]
    assert reviewers.shared and len(reviewers.arrangements) == 2
    review = dimensions["gatekeeper.review_hours_mean"]
    assert not review.shared and len(review.arrangements) == 1


def test_shipped_dimensions_have_one_name_each_and_variants_share_their_base() -> None:
    """Given as typed (relative paths), the arrangements' entries are named once, included ones shared."""
    paths = [Path(os.path.relpath(p)) for p in sorted((ROOT / "configs" / "arrangements").glob("*.toml"))]
    dimensions = dimensions_of([load_config(p) for p in paths])
    assert len({d.key for d in dimensions}) == len(dimensions)
    egress = {d.arrangements for d in dimensions if d.path == "controls.egress_monitoring_share"}
    assert ("google", "google_access_controls") in egress and ("oracle", "oracle_no_singapore_route") in egress
