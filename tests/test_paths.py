"""Dotted paths over a config: one walker for every reader."""

from __future__ import annotations

from sim.config.paths import get_path

DATA = {"gatekeeper": {"reviewers": 25, "off": None}, "routes": [{"gate": "steward"}, {"gate": "none"}],
        "pair": (1, 2)}


def test_a_path_reaches_dict_keys_and_list_items() -> None:
    """Keys walk dicts and digits index lists and tuples."""
    assert get_path(DATA, "gatekeeper.reviewers") == 25
    assert get_path(DATA, "routes.1.gate") == "none"
    assert get_path(DATA, "pair.1") == 2
    assert get_path(DATA, "routes") == DATA["routes"]


def test_a_missing_path_gives_the_default() -> None:
    """An absent key, an index past the end, a non-digit index or a walk into a leaf gives the default."""
    missing = object()
    for key in ("gatekeeper.nobody", "routes.2.gate", "routes.first", "gatekeeper.reviewers.more", "nothing"):
        assert get_path(DATA, key) is None
        assert get_path(DATA, key, missing) is missing
    assert get_path(DATA, "gatekeeper.off", missing) is None  # a stored None is found, not missing
