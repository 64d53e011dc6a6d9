"""Distinct people exposed by reads: the expected number of distinct records that reads touched.

Sampling assumption: each residual read of k records draws its records uniformly at random,
without replacement, from all N records of its data class, independently of every other read.
A record then escapes one read with probability 1 - k/N, and escapes them all with the product,
so the expected number of distinct records read is N (1 - prod(1 - k_i / N)).

Were a read confined to the share of the class its site holds (a random subset of size f N),
reads would overlap more and the expected count would be lower: a record escapes reads of
sizes k_i there with probability (1 - f) + f prod(1 - k_i / (f N)) >= prod(1 - k_i / N).
So the figure is an upper bound on the people exposed, given the reads.
"""

from __future__ import annotations

import math


class DistinctRecords:
    """Accumulate reads of one population of records and estimate the distinct records they touched.

    Memory is constant: only the sum of log(1 - k/N) is kept.
    """

    __slots__ = ("log_escape", "population", "reads")

    def __init__(self, population: float) -> None:
        self.population = population
        self.log_escape = 0.0
        self.reads = 0

    def read(self, records: float) -> None:
        """Add one read of `records` records (a read of the whole population or more covers it all)."""
        self.reads += 1
        if self.population <= 0.0:
            return
        share = records / self.population
        self.log_escape += -math.inf if share >= 1.0 else math.log1p(-share)

    def expected(self) -> float:
        """Return the expected number of distinct records read so far."""
        return self.population * -math.expm1(self.log_escape) if self.population > 0.0 else 0.0


def expected_distinct(population: float, reads: list[float]) -> float:
    """Return N (1 - prod(1 - k_i / N)) for reads of sizes k_i from a population of N records."""
    tally = DistinctRecords(population)
    for records in reads:
        tally.read(records)
    return tally.expected()


class CohortRecords(DistinctRecords):
    """Distinct records of covert exports, a share of each drawn from one fixed cohort of users.

    With overlap o, an export of k records takes (1 - o) k records uniformly (as
    `DistinctRecords`) and o k from one cohort that re-sent lists share, which is as large as
    the largest such part so far. A record escapes them all with (1 - c/N) prod(1 - (1-o) k_i/N).
    o = 0 is the uniform upper bound; o = 1 exposes only the largest export.
    """

    __slots__ = ("cohort", "overlap")

    def __init__(self, population: float, overlap: float) -> None:
        super().__init__(population)
        self.overlap = overlap
        self.cohort = 0.0

    def read(self, records: float) -> None:
        """Add one export of `records` records, its overlap share from the cohort."""
        self.cohort = max(self.cohort, min(self.overlap * records, self.population))
        super().read((1.0 - self.overlap) * records)

    def escape(self) -> float:
        """Return the chance a record escapes every export so far."""
        if self.population <= 0.0:
            return 1.0
        return (1.0 - self.cohort / self.population) * math.exp(self.log_escape)


class Exposure:
    """People exposed in one data class: by requested reads and by covert exports, and in all."""

    __slots__ = ("covert", "population", "requested")

    def __init__(self, population: float, overlap: float) -> None:
        self.population = population
        self.requested = DistinctRecords(population)
        self.covert = CohortRecords(population, overlap)

    def read(self, records: float, covert: bool) -> None:
        """Add one read, to the covert tally if it is a covert export."""
        (self.covert if covert else self.requested).read(records)

    def expected(self) -> float:
        """Return the expected distinct records read by either kind: N (1 - both escapes)."""
        if self.population <= 0.0:
            return 0.0
        return self.population * (1.0 - math.exp(self.requested.log_escape) * self.covert.escape())
