"""Workers set the allocator so large temporaries are reused, whatever the environment says."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from sim.experiment.memory import stop_worker_profiler

# Allocate and free a 4 MB array 200 times, as a batch's temporaries are, and print the minor
# page faults it cost. Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which pins
# glibc's mmap threshold at 128 KiB: every array is then mapped and faulted in afresh.
PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from sim.experiment.memory import tune_allocator
    assert tune_allocator()
np.ones(1 << 19)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    np.ones(1 << 19).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    """Return the minor page faults of the probe in a process started as a Dask worker is."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_tuned_allocator_reuses_large_temporaries() -> None:
    untuned, tuned = faults("plain"), faults("tuned")
    assert untuned > 200 * 400  # each 4 MB array faulted in anew (about 500 faults each, measured)
    assert tuned < untuned / 20


def test_the_worker_profiler_is_stopped() -> None:
    stopped: list[str] = []

    def callback(name: str) -> SimpleNamespace:
        return SimpleNamespace(stop=lambda: stopped.append(name))

    worker = SimpleNamespace(periodic_callbacks={
        "profile": callback("profile"), "profile-cycle": callback("profile-cycle"),
        "heartbeat": callback("heartbeat")})
    stop_worker_profiler(worker)
    assert sorted(stopped) == ["profile", "profile-cycle"]
    stop_worker_profiler(SimpleNamespace())  # a worker without callbacks is left alone


def test_a_settled_heap_leaves_the_collector_nothing_of_start_up_to_scan() -> None:
    """After `settle_heap`, what start-up left alive is frozen: a full collection scans only what came after."""
    probe = ("import gc\nimport sim.experiment.sweep\nfrom sim.experiment.memory import settle_heap\n"
             "before = len(gc.get_objects())\nsettle_heap()\n"
             "print(before, gc.get_freeze_count(), len(gc.get_objects()))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    before, frozen, after = map(int, done.stdout.split())
    assert before > 10_000 and frozen >= before * 0.9 and after < 100


def test_a_heap_settled_for_a_while_is_given_back() -> None:
    """In a process that goes on (the command line's, a notebook's), what was frozen is unfrozen at the end."""
    probe = ("import gc\nfrom sim.experiment.memory import heap_settled\n"
             "with heap_settled():\n    during = gc.get_freeze_count()\n"
             "after = gc.get_freeze_count()\n"
             "gc.freeze()\nwith heap_settled():\n    pass\n"
             "print(during, after, gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    during, after, kept = done.stdout.split()
    assert int(during) > 1_000 and int(after) == 0  # frozen meanwhile, given back at the end
    assert kept == "True"  # the caller's own freeze is left alone
