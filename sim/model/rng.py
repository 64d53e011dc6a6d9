"""Named random streams spawned from (seed, replication), drawn in blocks for speed.

Each source of randomness has its own stream, keyed by a stable name, so two arrangements
run under one seed see the same draws wherever their parts are the same (common random
numbers), whatever else differs between them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

BLOCK = 4096
#: The first block of a stream; each refill doubles it up to BLOCK, so a stream drawn a few
#: dozen times (a covert mode, a small actor group) draws a few dozen rows, not 4,096. The
#: draws are the same whatever the block sizes: a generator fills blocks in sequence.
FIRST_BLOCK = 32


def stream_key(name: str) -> int:
    """Return a stable integer for a stream name (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def generator(seed: int, replication: int, name: str) -> np.random.Generator:
    """Return the generator of stream `name` in replication `replication` of `seed`."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(replication, stream_key(name)))
    return np.random.Generator(np.random.PCG64(sequence))


# SeedSequence's hash constants (numpy.random.bit_generator), for `seed_states`.
_MASK32 = 0xFFFFFFFF
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R, _XSHIFT = 0xCA01F9DD, 0x4973F715, 16
_POOL_SIZE = 4


def _words(value: int) -> list[int]:
    """Return a non-negative integer as SeedSequence reads it: 32-bit words, least significant first."""
    words = [value & _MASK32] if value == 0 else []
    while value > 0:
        words.append(value & _MASK32)
        value >>= 32
    return words


def seed_states(seed: int, replication: int, names: list[str]) -> np.ndarray:
    """Return the PCG64 seed words of many streams at once: row i is what stream `names[i]`'s
    `SeedSequence(entropy=seed, spawn_key=(replication, stream_key(name))).generate_state(4, np.uint64)` gives.

    SeedSequence's mixing, done on arrays across the names instead of once per name (the
    names differ only in the last word of entropy, so the words before it are mixed once, as
    arrays of one, and broadcast). `seed` and `replication` must be >= 0.
    """
    keys = np.array([stream_key(name) for name in names], dtype=np.uint32)
    run = _words(seed)
    run += [0] * (_POOL_SIZE - len(run))
    entropy = [np.full(1, word, dtype=np.uint32) for word in run + _words(replication)] + [keys]
    const = _INIT_A
    shift = np.uint32(_XSHIFT)

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal const
        value = value ^ np.uint32(const)
        const = (const * _MULT_A) & _MASK32
        value = value * np.uint32(const)
        return value ^ (value >> shift)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result: np.ndarray = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
        mixed: np.ndarray = result ^ (result >> shift)
        return mixed

    pool = [hashmix(entropy[i]) for i in range(_POOL_SIZE)]
    for source in range(_POOL_SIZE):
        for target in range(_POOL_SIZE):
            if source != target:
                pool[target] = mix(pool[target], hashmix(pool[source]))
    for word in entropy[_POOL_SIZE:]:
        for target in range(_POOL_SIZE):
            pool[target] = mix(pool[target], hashmix(word))
    const = _INIT_B
    state = np.empty((keys.size, 2 * _POOL_SIZE), dtype="<u4")
    for i in range(2 * _POOL_SIZE):
        value = pool[i % _POOL_SIZE] ^ np.uint32(const)
        const = (const * _MULT_B) & _MASK32
        value = value * np.uint32(const)
        state[:, i] = value ^ (value >> shift)
    return state.view("<u8").astype(np.uint64)


class _Prepared(ISeedSequence):
    """A seed sequence whose state was computed ahead (`seed_states`): PCG64 reads it as it would the original's."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        """Return the prepared words (PCG64 asks for four 64-bit words)."""
        return self.words


class Stream:
    """A buffered stream of draws from one distribution of one named generator."""

    __slots__ = ("_block", "_draw", "_i", "_size", "_width")

    def __init__(self, draw: Callable[[Any], np.ndarray], width: int = 1) -> None:
        self._draw = draw
        self._width = width
        self._block: list[float] | list[list[float]] = []
        self._i = 0
        self._size = FIRST_BLOCK

    def next(self) -> float:
        """Return the next draw."""
        if self._i == len(self._block):
            self._refill()
        value = self._block[self._i]
        self._i += 1
        return value  # type: ignore[return-value]

    def row(self) -> list[float]:
        """Return the next row of `width` draws (for streams built with width > 1)."""
        if self._i == len(self._block):
            self._refill()
        value = self._block[self._i]
        self._i += 1
        return value  # type: ignore[return-value]

    def _refill(self) -> None:
        rows = self._size
        self._size = min(2 * rows, BLOCK)
        size = rows if self._width == 1 else (rows, self._width)
        self._block = self._draw(size).tolist()
        self._i = 0


class Streams:
    """The named streams of one replication."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        self._prepared: dict[str, np.ndarray] = {}

    def prepare(self, names: list[str]) -> None:
        """Compute the seeds of many streams at once (`seed_states`), for `rng` to build them from.

        Building a generator spends most of its time seeding; a world of many actor groups
        builds hundreds. The generators are the same as without it, draw for draw.
        """
        if self.seed < 0 or self.replication < 0:
            return  # left to SeedSequence, which refuses them
        fresh = [name for name in dict.fromkeys(names) if name not in self._prepared]
        if fresh:
            self._prepared.update(zip(fresh, seed_states(self.seed, self.replication, fresh), strict=True))

    def rng(self, name: str) -> np.random.Generator:
        """Return the generator of a named stream (seeded from `prepare` where it was prepared)."""
        words = self._prepared.get(name)
        if words is None:
            return generator(self.seed, self.replication, name)
        return np.random.Generator(np.random.PCG64(_Prepared(words)))  # type: ignore[arg-type]

    def exponential(self, name: str) -> Stream:
        """Return a buffered stream of unit-mean exponential draws."""
        return Stream(self._lazy(name, "standard_exponential"))

    def uniform(self, name: str, width: int = 1) -> Stream:
        """Return a buffered stream of uniform [0, 1) draws, `width` at a time."""
        return Stream(self._lazy(name, "random"), width)

    def normal(self, name: str, width: int = 1) -> Stream:
        """Return a buffered stream of standard normal draws, `width` at a time."""
        return Stream(self._lazy(name, "standard_normal"), width)

    def _lazy(self, name: str, method: str) -> Callable[[Any], np.ndarray]:
        """Return a draw function whose generator is made at its first draw (many streams never draw)."""
        made: list[Callable[[Any], np.ndarray]] = []

        def draw(size: Any) -> np.ndarray:
            if not made:
                made.append(getattr(self.rng(name), method))
            return made[0](size)

        return draw
