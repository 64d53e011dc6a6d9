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

    def rng(self, name: str) -> np.random.Generator:
        """Return the generator of a named stream."""
        return generator(self.seed, self.replication, name)

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
