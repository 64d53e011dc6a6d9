"""The hot loops, compiled with Numba where it is installed, else run as the same loops in Python (issue 23).

Two loops dominate a run once the rest is in numpy: the gate's next-free-time recursion (one
heap replacement per reviewed request, inherently sequential) and libm's exp and log over the
review times, delays and records (per element, because numpy's vectorised exp and log may
differ from libm in the last bit). Two more matter less: the metrics' running sums (`total` and
`queue_area`: each addend in turn, never pairwise) and, in a world of many small actor groups,
their arrivals loop, window by window (`sparse_arrivals`). The kernels here are plain Python that
Numba compiles (`pip install residency[fast]`); without it the gate keeps its own loop on lists
(`fastgate._starts`, the reference), exp and log go through `math` element by element, running
sums through numpy's `add.accumulate` (as sequential, so the same bits), and the small groups'
arrivals their passes over all groups at once (`arrivals.FewArrivals`).

The compiled kernels are used only when Numba imports, and loaded on first use, never at
import: a run that reviews no request never loads it. Both versions give the same bits:
the recursion, the running sums and the arrivals loop only compare, add and subtract floats
(compiled without fast-math, so IEEE 754 as in Python, never reordered), and Numba's `math.exp`
and `math.log` call the process's libm, the very functions Python's `math` calls
(`tests/test_compiled.py` runs both versions on the same inputs, including a few million random
doubles and the edge cases). exp and log stay in Python where Numba would vectorise them with
Intel's SVML (its own exp and log), and wherever a result is not finite the values are taken
again through Python's `math`, which raises as it always did. Loading Numba costs a process about
a second, so a process loads it only once it has
settled enough requests for the compiled loops to win that back (`kernels`);
`RESIDENCY_COMPILED=1` in the environment loads it at once, `0` keeps every kernel in Python.

Compiled code is cached (`cache=True`) in `__pycache__` beside this module, like `.pyc` files,
so only the first load after an install compiles (about four seconds of CPU, once). Where that
folder is read-only nothing is cached (unless NUMBA_CACHE_DIR names a folder): Numba would
otherwise write to the user's home.
"""

from __future__ import annotations

import math
import os
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The environment variable that chooses the kernels: "auto" (unset), "1" (Numba at once) or "0" (Python only).
SWITCH = "RESIDENCY_COMPILED"


# -- the kernels, written for Numba (plain Python too, which the tests run) --------------------
def gate_plain(free: np.ndarray, arrivals: np.ndarray, reviews: np.ndarray) -> np.ndarray:
    """Return each request's start under the bare Kiefer-Wolfowitz recursion; `free`, a heap, is updated.

    A request starts at the later of its arrival and the earliest instant a reviewer is free;
    that reviewer is free again after the review. No shifts, no expiry (`fastgate._starts`).
    """
    n = arrivals.shape[0]
    size = free.shape[0]
    starts = np.empty(n)
    for i in range(n):
        a = arrivals[i]
        m = free[0]
        x = a if a >= m else m
        starts[i] = x
        _replace(free, size, x + reviews[i])
    return starts


def gate_shifts(free: np.ndarray, opens: np.ndarray, closes: np.ndarray, window: int, arrivals: np.ndarray,
                reviews: np.ndarray, expiries: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Return each request's start (or the instant it is found expired), which expired, and the shift reached.

    As `gate_plain`, but a start that falls off shift moves to the next shift's start, and a
    request whose start would come after its expiry leaves without taking a reviewer.
    """
    n = arrivals.shape[0]
    size = free.shape[0]
    nwin = opens.shape[0]
    starts = np.empty(n)
    gone = np.zeros(n, dtype=np.bool_)
    w = window
    begin = opens[w] if w < nwin else math.inf
    end = closes[w] if w < nwin else math.inf
    for i in range(n):
        a = arrivals[i]
        m = free[0]
        x = a if a >= m else m
        if x >= end:
            while w < nwin and closes[w] <= x:
                w += 1
            begin = opens[w] if w < nwin else math.inf
            end = closes[w] if w < nwin else math.inf
        if x < begin:
            x = begin
        if x > expiries[i]:
            gone[i] = True
        else:
            _replace(free, size, x + reviews[i])
        starts[i] = x
    return starts, gone, w


def _replace(heap: np.ndarray, size: int, item: float) -> None:
    """Replace the smallest value of a binary min-heap with `item` and restore the heap."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and heap[right] < heap[child]:
            child = right
        if heap[child] >= item:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = item


def sparse_arrivals(limit: float, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, count: np.ndarray,
                    index: np.ndarray, t: np.ndarray, gap: np.ndarray, gaps: np.ndarray, used: np.ndarray,
                    drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the arrivals loop's instants before `limit` of each given row (group), their rows, and which ran short.

    Each row is one group's state as `arrivals.FewArrivals` holds it: its windows (`starts`,
    `ends`, `count` of them), the window reached, `t`, the pending `gap` and its drawn gaps
    (`gaps`, used up to `used`, drawn up to `drawn`); the state is updated. The loop is
    `ArrivalCursor._sparse`'s, with its arithmetic: a row whose drawn gaps run out stops before
    the arrival that would need another (`short`), for the caller to draw more and go on.
    """
    size = 0
    for j in range(rows.shape[0]):
        size += drawn[rows[j]] - used[rows[j]]
    out = np.empty(size)
    owner = np.empty(size, dtype=np.int64)
    short = np.zeros(rows.shape[0], dtype=np.bool_)
    n = 0
    for j in range(rows.shape[0]):
        r = rows[j]
        w, x, g, u, d, c = index[r], t[r], gap[r], used[r], drawn[r], count[r]
        while w < c:
            start, end = starts[r, w], ends[r, w]
            if start >= limit:
                break
            stop = end if end <= limit else limit
            while x + g < stop:
                if u == d:
                    short[j] = True
                    break
                x += g
                out[n] = x
                owner[n] = r
                n += 1
                g = gaps[r, u]
                u += 1
            if short[j] or stop < end:
                break
            w += 1
            g -= end - x
            x = starts[r, w] if w < c else 0.0
        index[r], t[r], gap[r], used[r] = w, x, g, u
    return out[:n], owner[:n], short


def log_all(values: np.ndarray) -> np.ndarray:
    """Return libm's log of each value."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = math.log(values[i])
    return out


def exp_all(values: np.ndarray) -> np.ndarray:
    """Return libm's exp of each value."""
    out = np.empty(values.shape[0])
    for i in range(values.shape[0]):
        out[i] = math.exp(values[i])
    return out


def escape_logs(share: np.ndarray) -> np.ndarray:
    """Return libm's log1p(-s) of each share s, -inf where s is 1 or more (`exposure.DistinctRecords.read`)."""
    out = np.empty(share.shape[0])
    for i in range(share.shape[0]):
        s = share[i]
        out[i] = -math.inf if s >= 1.0 else math.log1p(-s)
    return out


def total(start: float, addends: np.ndarray) -> float:
    """Return `start` plus the addends added one by one, in order (compiled without fast-math: never reordered)."""
    for i in range(addends.shape[0]):
        start += addends[i]
    return start


def queue_area(area: float, last: float, t: np.ndarray, length: np.ndarray, past: np.ndarray) -> float:
    """Return `area` plus, change by change from the instant `last`, the queue's length times the time since the
    last change, then less the hours past expiry of a request leaving expired (`past`, NaN for any other change)."""
    for i in range(t.shape[0]):
        area += length[i] * (t[i] - last)
        gone = past[i]
        area += 0.0 if gone != gone else -gone
        last = t[i]
    return area


def _python_total(start: float, addends: np.ndarray) -> float:
    return float(np.add.accumulate(np.concatenate(([start], addends)))[-1])


def _python_queue_area(area: float, last: float, t: np.ndarray, length: np.ndarray, past: np.ndarray) -> float:
    addends = np.empty(2 * t.size)
    addends[0::2] = length * (t - np.concatenate(([last], t[:-1])))
    addends[1::2] = np.where(np.isnan(past), 0.0, -past)
    return _python_total(area, addends)


def _python_escape_logs(share: np.ndarray) -> np.ndarray:
    return np.array([-math.inf if s >= 1.0 else math.log1p(-s) for s in share.tolist()], dtype=float)


def _python_log(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(math.log, values.tolist()), dtype=float, count=values.size)


def _python_exp(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(math.exp, values.tolist()), dtype=float, count=values.size)


# -- choosing the version ------------------------------------------------------------------------
@dataclass(frozen=True)
class Kernels:
    """One version of every kernel: `name` is "python" or "numba".

    Without Numba the gate and arrivals kernels are None: the gate's own loop on lists
    (`fastgate._starts`) and the arrivals' passes over all groups (`arrivals.FewArrivals`) are
    faster in Python than these kernels on arrays.
    """

    name: str
    gate_plain: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None
    gate_shifts: Callable[..., tuple[np.ndarray, np.ndarray, int]] | None
    sparse_arrivals: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]] | None
    log_all: Callable[[np.ndarray], np.ndarray]
    exp_all: Callable[[np.ndarray], np.ndarray]
    escape_logs: Callable[[np.ndarray], np.ndarray]
    total: Callable[[float, np.ndarray], float]  # a running sum of float64 addends, in order
    queue_area: Callable[[float, float, np.ndarray, np.ndarray, np.ndarray], float]  # the same over queue changes


#: The kernels in Python: the reference, and the path when Numba is missing.
PYTHON = Kernels("python", None, None, None, _python_log, _python_exp, _python_escape_logs, _python_total,
                 _python_queue_area)

#: Reviewed requests a process settles with the Python kernels before it loads Numba (`kernels`).
WORTH_LOADING = 2_000_000
_chosen: Kernels | None = None  # the kernels fixed for the rest of the process, once chosen
_settled = 0  # reviewed requests settled so far with the Python kernels, before the choice


def compile_numba() -> Kernels | None:
    """Return the kernels compiled by Numba, or None when Numba does not import."""
    try:
        import numba  # optional, and heavy: imported only when a run needs a kernel
    except ImportError:
        return None
    jit: Any = numba.njit(cache=_cacheable(), nogil=True)
    replace = jit(_replace)
    plain = jit(_rebind(gate_plain, _replace=replace))
    shifts = jit(_rebind(gate_shifts, _replace=replace))
    loops = (plain, shifts, jit(sparse_arrivals))
    sums = (jit(total), jit(queue_area))
    if numba.config.USING_SVML:  # SVML's exp and log are not libm's: keep them in Python
        return Kernels("numba", *loops, _python_log, _python_exp, _python_escape_logs, *sums)
    return Kernels("numba", *loops, jit(log_all), jit(exp_all), jit(escape_logs), *sums)


def _cacheable() -> bool:
    """Return whether compiled code may be kept: beside this module, like .pyc files, or where NUMBA_CACHE_DIR says.

    Where the package folder is read-only Numba would keep it in the user's home instead: then
    each process compiles anew rather than write there.
    """
    here = Path(__file__).parent
    folder = here / "__pycache__"
    return bool(os.environ.get("NUMBA_CACHE_DIR")) or os.access(folder if folder.is_dir() else here, os.W_OK)


def _rebind(function: Callable[..., Any], **names: Any) -> Callable[..., Any]:
    """Return `function` with the given global names bound to compiled kernels (for Numba to inline)."""
    scope = dict(function.__globals__, **names)
    rebound = types.FunctionType(function.__code__, scope, function.__name__, function.__defaults__,
                                 function.__closure__)
    rebound.__qualname__ = function.__qualname__
    rebound.__module__ = function.__module__
    return rebound


def kernels(requests: int = 0) -> Kernels:
    """Return the kernels to use now; `requests` is how many reviewed requests the caller is about to settle.

    Loading Numba costs a process about a second of CPU (its import, and reading its cache of
    compiled kernels; two or three seconds of wall time on a busy machine), about what the
    compiled loops save over one and a half million reviewed requests (0.6 against 0.2 s of CPU
    for the 525,000 of `benchmarks/core_speed.py`'s M/M/c year). So by default
    (`RESIDENCY_COMPILED` unset or "auto") a process runs the Python kernels until it has settled
    `WORTH_LOADING` reviewed requests, then loads Numba: a short run never pays for it, a long one
    or a worker of many runs does. "1" loads it at the first call, "0" never. Either kernels give
    the same bits, so when the switch happens changes no result.
    """
    global _chosen, _settled
    if _chosen is not None:
        return _chosen
    mode = os.environ.get(SWITCH, "auto")
    if mode == "0":
        _chosen = PYTHON
    elif mode == "1" or _settled + requests > WORTH_LOADING:
        return load()
    _settled += requests
    return PYTHON


def load() -> Kernels:
    """Return the compiled kernels from now on, loading Numba now (the Python ones if Numba does not import)."""
    global _chosen
    if os.environ.get(SWITCH) == "0":
        _chosen = PYTHON
    elif _chosen is None or _chosen is PYTHON:
        compiled = compile_numba()
        _chosen = compiled if compiled is not None else PYTHON
    return _chosen


def libm_all(function: Callable[[float], float], values: np.ndarray) -> np.ndarray:
    """Return `function` (math.exp or math.log) of each value, bit for bit as Python's `math` gives it.

    Where a result is not finite (an overflow, a log of zero or less) the values are taken
    again through `math` itself, which raises its error as before.
    """
    if not values.size:
        return np.empty(0)
    k = kernels()
    if function is math.log:
        out = k.log_all(np.ascontiguousarray(values, dtype=float))
    elif function is math.exp:
        out = k.exp_all(np.ascontiguousarray(values, dtype=float))
    else:
        return np.fromiter(map(function, values.tolist()), dtype=float, count=values.size)
    if k is not PYTHON and not np.isfinite(out).all():
        return np.fromiter(map(function, values.tolist()), dtype=float, count=values.size)
    return out


