"""Set the C allocator's behaviour in every process that runs replications.

The batched engine allocates several temporaries of 0.2 to 1.5 MB per batch. glibc maps each
allocation above its mmap threshold afresh and returns it on free, so every such temporary is
page-faulted anew. Dask's nanny makes this worse: it exports ``MALLOC_TRIM_THRESHOLD_=65536``,
which also pins the mmap threshold at 128 KiB. Measured (../shared/reviews/performance.md,
section 4b): twice the page faults and system time in Dask workers, and 13 to 20% more CPU per
run in a plain process than with the thresholds below.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
from collections.abc import Iterator
from typing import Any

# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Allocations below this size come from the heap and are reused, not mapped afresh.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
#: Free memory at the top of the heap is kept up to this size instead of being returned at once.
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds in this process; return whether both calls took.

    Runtime calls override the environment variables the process started with. Elsewhere than
    glibc on Linux nothing is changed and False is returned: results never depend on it, only
    speed does.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - musl or another C library
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mmap_set = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1)
    trim_set = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1)
    return mmap_set and trim_set


def settle_heap() -> None:
    """Collect once, then put every object alive now (modules, loaded configs) out of the cyclic collector's reach.

    A run of a world with many actor groups keeps thousands of objects alive for its length,
    enough that every few runs the collector makes a full pass over everything the process
    holds (about 130,000 objects after start-up, some 50 ms a pass): measured, half the CPU of
    a 60-day run of 100 groups (8.5 of 16.8 ms) and a quarter of a year's. Frozen objects are
    never scanned again; reference counting still frees them, and what start-up leaves alive
    lives as long as the process. Results do not depend on it, only speed does.
    """
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def heap_settled() -> Iterator[None]:
    """Freeze the heap (as `settle_heap`) while replications run in a process that goes on afterwards, then undo it.

    The command line's own process, or a notebook's, runs replications in place: what it froze
    is given back to the collector at the end, so that an object of the caller's that later
    becomes unreachable in a cycle is still collected. Where objects are frozen already (a
    worker, or the caller's own doing) it changes nothing.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()  # no collection first: what is garbage now is given back with the rest at the end
    try:
        yield
    finally:
        gc.unfreeze()


def stop_worker_profiler(worker: Any) -> None:
    """Stop a Dask worker's statistical profiler, which samples the task thread every 10 ms.

    It competes with the simulation for the interpreter lock (about 10% of a worker's CPU,
    measured); these tasks are numeric batches whose profile nobody reads.
    """
    callbacks = getattr(worker, "periodic_callbacks", None) or {}
    for name in ("profile", "profile-cycle"):
        callback = callbacks.get(name)
        if callback is not None:
            callback.stop()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a step builds many acyclic objects (planning, summaries).

    Each full collection scans every live object, so a step that keeps thousands of resolved
    configs alive pays a growing scan per allocation burst (measured: about 30% of planning
    1,000 worlds). The objects built here hold no cycles, so reference counting frees them
    as before; the collector resumes, as it was, when the step ends or fails.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: BLAS threads the serial steps use. Their matrices are small (worlds x a few dozen columns): with a
#: thread per core, the threads of OpenBLAS spin waiting for each other and for other processes, and
#: the summary of 1,000 worlds took 3 to 4 times the CPU of one thread (the values are the same bytes).
SERIAL_BLAS_THREADS = 1


@contextlib.contextmanager
def blas_threads(limit: int = SERIAL_BLAS_THREADS) -> Iterator[None]:
    """Limit the BLAS and OpenMP thread pools to `limit` threads while a serial step runs, then restore them."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit):
        yield
