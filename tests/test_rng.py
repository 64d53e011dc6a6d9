"""Streams seeded in a batch (`Streams.prepare`) are the streams seeded one by one, to the bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.rng import Streams, generator, seed_states, stream_key

NAMES = st.lists(st.text(max_size=30), min_size=1, max_size=20)
SEEDS = st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2**160))
REPLICATIONS = st.one_of(st.integers(0, 50), st.integers(0, 2**70))


@settings(max_examples=60, deadline=None)
@given(SEEDS, REPLICATIONS, NAMES)
def test_batched_seeds_are_the_seed_sequences_states(seed: int, replication: int, names: list[str]) -> None:
    """Each row of `seed_states` is the state SeedSequence generates for that stream."""
    expected = [np.random.SeedSequence(entropy=seed, spawn_key=(replication, stream_key(name))).generate_state(
        4, np.uint64) for name in names]
    assert np.array_equal(seed_states(seed, replication, names), np.array(expected, dtype=np.uint64))


@settings(max_examples=40, deadline=None)
@given(SEEDS, REPLICATIONS, NAMES)
def test_prepared_generators_equal_those_built_one_by_one(seed: int, replication: int, names: list[str]) -> None:
    """A prepared stream's generator has the state of one built alone, and draws the same."""
    streams = Streams(seed, replication)
    streams.prepare(names)
    for name in names:
        prepared, alone = streams.rng(name), generator(seed, replication, name)
        assert prepared.bit_generator.state == alone.bit_generator.state
        assert np.array_equal(prepared.random(5), alone.random(5))


def test_unprepared_streams_and_repeated_requests_are_unchanged() -> None:
    """A name not prepared is built as before; asking twice for a prepared name starts it afresh both times."""
    streams = Streams(20220617, 2)
    streams.prepare(["actor.a.arrivals", "actor.a.arrivals"])
    first = streams.rng("actor.a.arrivals").standard_exponential(4)
    assert np.array_equal(streams.rng("actor.a.arrivals").standard_exponential(4), first)
    assert np.array_equal(streams.rng("other").random(3), generator(20220617, 2, "other").random(3))
