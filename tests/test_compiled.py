"""The compiled kernels against the pure-Python path: the same bits on the same inputs (issue 23)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import ARRANGEMENTS
from test_fast_engine import assert_identical, mmc_variants, run, shorter, stressed

from sim.config.loader import load_config
from sim.model import compiled
from sim.model.batched import fastgate
from sim.model.compiled import PYTHON, Kernels

numba = pytest.importorskip("numba")  # the dev extra installs it; without it only the Python path exists

#: Values where exp and log are delicate: zeros, subnormals, the ends of the range, near 1, the overflow edge.
EDGES = np.array([
    0.0, -0.0, 5e-324, 1e-320, 2.2250738585072014e-308, 2.225073858507201e-308, 1e-300, 1e-10, 0.5,
    np.nextafter(1.0, 0.0), 1.0, np.nextafter(1.0, 2.0), 2.0, math.e, 10.0, 1e300, 1.7976931348623157e308,
    -1e-300, -1.0, -700.0, -745.0, -745.2, -708.4, 709.0, 709.78, 709.7827128933839, -1e-320,
])


@pytest.fixture(scope="module")
def fast() -> Kernels:
    """Return the kernels compiled by Numba."""
    kernels = compiled.compile_numba()
    assert kernels is not None
    return kernels


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Return a function that makes runs use one version of the kernels (restored afterwards)."""
    def choose(kernels: Kernels) -> None:
        monkeypatch.setattr(compiled, "_chosen", kernels)
    yield choose


def doubles(n: int, seed: int = 23) -> np.ndarray:
    """Return random doubles over every exponent and both signs (random bit patterns, finite only), and uniforms."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**63 - 1, n // 2, dtype=np.int64, endpoint=True).view(np.float64)
    bits = bits[np.isfinite(bits)] * np.where(rng.random(bits.size) < 0.5, -1.0, 1.0)[np.isfinite(bits)]
    return np.concatenate((EDGES, bits, rng.random(n // 4), rng.standard_normal(n // 4) * 5.0))


def through_math(function: Any, values: np.ndarray) -> np.ndarray:
    """Return Python's `math` function of each value, NaN where it raises."""
    out = np.empty(values.size)
    for i, v in enumerate(values.tolist()):
        try:
            out[i] = function(v)
        except (ValueError, OverflowError):
            out[i] = math.nan
    return out


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether two float arrays hold the same bits where both are defined (NaN marks undefined)."""
    defined = ~np.isnan(a) & ~np.isnan(b)
    return bool(np.array_equal(a[defined].view(np.int64), b[defined].view(np.int64)))


@pytest.mark.parametrize("function", [math.log, math.exp], ids=["log", "exp"])
def test_numbas_libm_gives_pythons_bits(fast: Kernels, function: Any) -> None:
    values = doubles(40_000)
    kernel = fast.log_all if function is math.log else fast.exp_all
    assert same_bits(kernel(values), through_math(function, values))
    plain = compiled.log_all if function is math.log else compiled.exp_all  # the kernel's source, in Python
    finite = values[np.isfinite(through_math(function, values))][:2_000]
    assert same_bits(plain(finite), through_math(function, finite))


@pytest.mark.slow  # a few million doubles through Python's math: a few seconds
@pytest.mark.parametrize("function", [math.log, math.exp], ids=["log", "exp"])
def test_numbas_libm_gives_pythons_bits_on_millions(fast: Kernels, function: Any) -> None:
    values = doubles(3_000_000, seed=2026)
    kernel = fast.log_all if function is math.log else fast.exp_all
    assert same_bits(kernel(values), through_math(function, values))


def escape_reference(share: np.ndarray) -> np.ndarray:
    """Return what `exposure.DistinctRecords.read` adds for each share, through Python's math."""
    return np.array([-math.inf if v >= 1.0 else math.log1p(-v) for v in share.tolist()])


@pytest.mark.parametrize("n", [40_000, pytest.param(3_000_000, marks=pytest.mark.slow)])
def test_numbas_log1p_gives_pythons_bits(fast: Kernels, n: int) -> None:
    rng = np.random.default_rng(n)
    values = doubles(n // 2, seed=n)
    share = np.concatenate((values, -values, rng.random(n // 4), rng.random(n // 4) ** 8, EDGES / 1e300))
    share = share[~np.isnan(share)]
    expected = escape_reference(share)
    for version in (fast, compiled):  # compiled, and the kernel's source run as plain Python
        assert np.array_equal(version.escape_logs(share).view(np.int64), expected.view(np.int64))


def test_running_sums_add_in_order_in_both_versions(fast: Kernels) -> None:
    rng = np.random.default_rng(7)
    addends = rng.standard_normal(50_000) * 10.0 ** rng.integers(-12, 12, 50_000)  # far from associative
    expected = 0.25
    for value in addends.tolist():  # one by one, as the event engine adds them
        expected += value
    assert expected != 0.25 + math.fsum(addends.tolist())  # the order shows in the bits
    for version in (fast, PYTHON):
        assert version.total(0.25, addends) == expected
    assert compiled.total(0.25, addends[:2_000]) == PYTHON.total(0.25, addends[:2_000])  # the kernel's source


def test_queue_areas_add_in_order_in_both_versions(fast: Kernels) -> None:
    rng = np.random.default_rng(8)
    t = np.cumsum(rng.exponential(0.01, 40_000))
    length = rng.integers(0, 30, t.size).astype(float)
    past = np.where(rng.random(t.size) < 0.2, rng.exponential(3.0, t.size), math.nan)
    expected, last = 7.5, 0.125
    for when, queued, gone in zip(t.tolist(), length.tolist(), past.tolist(), strict=True):  # as the ledger adds
        expected += queued * (when - last)
        expected += 0.0 if math.isnan(gone) else -gone
        last = when
    for version in (fast, PYTHON):
        assert version.queue_area(7.5, 0.125, t, length, past) == expected
    assert compiled.queue_area(7.5, 0.125, t, length, past) == expected  # the kernel's source


def test_libm_raises_as_math_does_where_numba_would_not(use: Any, fast: Kernels) -> None:
    use(fast)
    with pytest.raises(OverflowError):
        compiled.libm_all(math.exp, np.array([1.0, 800.0]))
    with pytest.raises(ValueError):
        compiled.libm_all(math.log, np.array([1.0, 0.0]))
    assert np.array_equal(compiled.libm_all(math.log, np.array([math.inf])), [math.inf])


def gate_inputs(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Return arrivals, reviews, expiries (some never) and shift windows for a busy gate."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / 8.0, n))
    reviews = rng.exponential(1.0, n)
    expiries = np.where(rng.random(n) < 0.2, math.inf, arrivals + rng.exponential(2.0, n))
    days = np.arange(int(arrivals[-1] / 24.0) + 2) * 24.0
    opens, closes = days + 9.0, days + 17.0
    return arrivals, reviews, expiries, opens, closes


@pytest.mark.parametrize("seed", [1, 2])
def test_the_gate_kernels_match_the_python_loop(use: Any, fast: Kernels, seed: int) -> None:
    use(PYTHON)  # the reference: the gate's own loop on lists
    arrivals, reviews, expiries, opens, closes = gate_inputs(20_000, seed)
    horizon = float(closes[-1])
    windows = [(float(a), float(b), float(b)) for a, b in zip(opens, closes, strict=True)]
    for shifts, never in ((False, True), (True, True), (True, False), (False, False)):
        expiry = np.full(arrivals.size, math.inf) if never else expiries
        wins = windows if shifts else fastgate.shift_clocks(None, horizon)
        reference = fastgate.GateState(3, wins, horizon)
        expected, gone = (np.asarray(part) for part in fastgate._starts(reference, arrivals, reviews, expiry, never))
        for version in (fast, compiled):  # compiled, and the kernels' own source run as plain Python
            heap = np.zeros(3)
            if not shifts and never:
                got, gone_got, window = version.gate_plain(heap, arrivals, reviews), np.zeros(0, bool), 0
            else:
                begin = np.array([w[0] for w in wins])
                end = np.array([w[1] for w in wins])
                got, gone_got, window = version.gate_shifts(heap, begin, end, 0, arrivals, reviews, expiry)
            assert np.array_equal(got.view(np.int64), expected.view(np.int64))
            assert np.array_equal(np.flatnonzero(gone_got), gone)
            assert sorted(heap.tolist()) == sorted(reference.free)
            assert window == reference.window


def run_both(use: Any, fast: Kernels, config: Any) -> None:
    """Assert a replication gives the same bits with the Python kernels and the compiled ones."""
    use(PYTHON)
    python = run(config, "fast")
    use(fast)
    assert_identical(python, run(config, "fast"))


@pytest.mark.parametrize("variant", ["plain", "shifts+expiry"])
def test_runs_match_between_the_paths(use: Any, fast: Kernels, variant: str) -> None:
    run_both(use, fast, shorter(mmc_variants()[variant], 30))


def test_a_stressed_arrangement_matches_between_the_paths(use: Any, fast: Kernels) -> None:
    run_both(use, fast, shorter(stressed(ARRANGEMENTS / "oracle.toml"), 30))


def test_the_event_engine_matches_the_compiled_fast_engine(use: Any, fast: Kernels) -> None:
    config = shorter(load_config(ARRANGEMENTS / "joint_venture.toml").config, 10)
    use(fast)
    assert_identical(run(config, "event"), run(config, "fast"))


def test_without_numba_the_python_kernels_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    monkeypatch.setattr(compiled, "_chosen", None)
    assert compiled.compile_numba() is None
    assert compiled.load() is PYTHON
    assert compiled.kernels(10**9) is PYTHON


@pytest.mark.parametrize(("switch", "expected"), [("0", "python"), ("1", "numba"), ("auto", "python")])
def test_the_switch_chooses_the_kernels(monkeypatch: pytest.MonkeyPatch, switch: str, expected: str) -> None:
    monkeypatch.setenv(compiled.SWITCH, switch)
    monkeypatch.setattr(compiled, "_chosen", None)
    monkeypatch.setattr(compiled, "_settled", 0)
    assert compiled.kernels(10).name == expected


def test_a_process_loads_numba_once_it_has_settled_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled.SWITCH, raising=False)
    monkeypatch.setattr(compiled, "_chosen", None)
    monkeypatch.setattr(compiled, "_settled", 0)
    monkeypatch.setattr(compiled, "WORTH_LOADING", 100)
    assert compiled.kernels(60) is PYTHON
    assert compiled.kernels(60).name == "numba"
    assert compiled.kernels() is compiled.kernels(0)


@pytest.mark.parametrize("copies", [1, 40])
def test_switching_kernels_within_a_run_changes_no_bit(monkeypatch: pytest.MonkeyPatch, copies: int) -> None:
    """The first batches run in Python, the rest compiled: the run equals an all-Python one.

    Split into 40 small groups per group, the groups' arrivals switch too (from the passes
    over all groups to `compiled.sparse_arrivals`, on the same state).
    """
    config = small_groups(shorter(load_config(ARRANGEMENTS / "oracle.toml").config, 15), copies)
    monkeypatch.setattr(compiled, "_chosen", PYTHON)
    python = run(config, "fast", span=24.0)
    monkeypatch.delenv(compiled.SWITCH, raising=False)
    monkeypatch.setattr(compiled, "_chosen", None)
    monkeypatch.setattr(compiled, "_settled", 0)
    monkeypatch.setattr(compiled, "WORTH_LOADING", int(python.metrics["requests.submitted"]) // 4)
    switched = run(config, "fast", span=24.0)
    assert compiled.kernels().name == "numba"
    assert_identical(python, switched)


def small_groups(config: Any, copies: int) -> Any:
    """Return the config with each actor group split into `copies` groups of a share of its headcount."""
    if copies == 1:
        return config
    actors = {f"{name}_{i}": spec.model_copy(update={"headcount": max(1, spec.headcount // copies)})
              for name, spec in config.actors.items() for i in range(copies)}
    routes = tuple(route.model_copy(update={"actor": f"{route.actor}_{i}"}) for route in config.routes
                   for i in (range(copies) if route.actor in config.actors else ()))
    routes += tuple(route for route in config.routes if route.actor not in config.actors)
    return config.model_copy(update={"actors": actors, "routes": routes})


def test_nothing_is_cached_where_the_package_folder_is_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(compiled.os, "access", lambda path, mode: False)
    assert not compiled._cacheable()
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/chosen")
    assert compiled._cacheable()
