"""Where replications run: in this process, in a local process pool, or on a Dask cluster.

Every task is a pure function of (config, seed, replication), so the rows are the same
whichever executor ran them and in whatever order they finished.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sim.config.schema import Config
from sim.errors import InputError
from sim.experiment.memory import heap_settled, settle_heap, stop_worker_profiler, tune_allocator
from sim.model.batched.fast import Engine

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Job:
    """One task: a tag the caller uses to file the result, and the arguments of the run."""

    tag: Any
    config: Config | tuple[Config, ...]  # a tuple: the arrangements of one world, run in one task
    seed: int
    replication: int


class Executor(Protocol):
    """Runs jobs and yields (job, result) pairs as they finish."""

    engine: Engine

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        """Run fn(config, seed, replication, engine=engine) for every job, yielding results as they finish."""
        ...

    def slots(self) -> int:
        """Return how many jobs can run at once: the worker processes, or the cluster's threads now."""
        ...

    def close(self) -> None:
        """Release the executor's resources."""
        ...


def default_workers() -> int:
    """Return the number of worker processes to use by default: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


#: Jobs submitted ahead per pool worker: enough that none waits for the next job, few enough that what the
#: submitted jobs hold (their configs) does not grow with the jobs of the run.
IN_FLIGHT_PER_WORKER = 4
#: Seconds of work a Dask task aims at when its jobs are short: Dask's cost per task (about 5 ms of CPU between
#: client, scheduler and worker) then stays near 0.1% (`DaskExecutor.map`). Measured over a 64-world explore on
#: 2 cores: the scheduler's, the workers' event loops' and the client's CPU 1.2 s with 1 s tasks, 0.9 s with 4 s.
DASK_TASK_SECONDS = 4.0
#: The most jobs one Dask task takes: what a task holds, and what a stop can lose, stays small.
DASK_MOST_JOBS = 32
#: The attribute of a Dask task's exception that carries the results of its jobs before the failed one.
DONE_BEFORE_FAILURE = "residency_done_before_failure"


class LocalExecutor:
    """Run jobs in this process (one worker) or in a pool of spawned processes."""

    def __init__(self, workers: int | None = None, engine: Engine = "fast", log_folder: Path | None = None,
                 keep_pool: bool = False) -> None:
        self.workers = workers or default_workers()
        self.engine = engine
        self.log_folder = log_folder
        #: Keep the pool's workers from one map call to the next (until `close`), so an experiment
        #: that maps again and again (design generations, --target-ci rounds, history-match waves)
        #: starts them once. Only for callers that close the executor.
        self.keep_pool = keep_pool
        self._kept: tuple[str, ProcessPoolExecutor] | None = None  # the kept pool and the module it warmed

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        """Run the jobs, yielding each result as it finishes; pending work is cancelled on exit."""
        fn = functools.partial(fn, engine=self.engine)
        if self.workers <= 1 or len(jobs) <= 1:
            tune_allocator()
            with heap_settled():
                for job in jobs:
                    yield job, fn(job.config, job.seed, job.replication)
            return
        workers = min(self.workers, len(jobs))
        pool = self._take_pool(workers, fn.func.__module__)
        waiting = iter(jobs)  # a job is taken (and its configs made, for a lazy sequence) only when it is submitted
        futures: dict[Future[Any], Job] = {}

        def submit_next() -> None:
            job = next(waiting, None)
            if job is not None:
                futures[pool.submit(fn, job.config, job.seed, job.replication)] = job

        try:
            with workers_born_ignoring_ctrl_c():  # the pool starts its workers as the first jobs are submitted
                for _ in range(IN_FLIGHT_PER_WORKER * workers):
                    submit_next()
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = futures.pop(future)  # a finished future holds its result: keep none once it is yielded
                    try:
                        result = future.result()
                    except (InputError, CancelledError):
                        raise
                    except Exception as exc:  # a worker's bug or death: one paragraph, the traceback in a log
                        raise worker_failure(job, exc, self.log_folder) from None
                    submit_next()  # before the caller stores the row: the workers stay busy meanwhile
                    yield job, result
                del finished
        except BaseException:  # Ctrl-C, SIGTERM, a failed task or a caller that stopped reading
            stop_workers(pool)
            self._kept = None  # a pool stopped midway is never used again
            raise
        finally:
            if self._kept is None or self._kept[1] is not pool:
                pool.shutdown(wait=True, cancel_futures=True)

    def _take_pool(self, workers: int, module: str) -> ProcessPoolExecutor:
        """Return the kept pool when it warmed the same module, else a new one (kept if `keep_pool`)."""
        if self._kept is not None and self._kept[0] == module:
            return self._kept[1]
        self.close()
        pool = ProcessPoolExecutor(max_workers=self.workers if self.keep_pool else workers,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=prepare_worker, initargs=(os.getpid(), module))
        if self.keep_pool:
            self._kept = (module, pool)
        return pool

    def slots(self) -> int:
        """Return the worker processes (1: jobs run in this process)."""
        return self.workers

    def close(self) -> None:
        """Stop the kept pool's workers, if any (each map call's own pool ends with the call)."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept[1].shutdown(wait=True, cancel_futures=True)


def worker_failure(job: Job, exc: BaseException, folder: Path | None = None) -> InputError:
    """Write a failed task's tracebacks (the worker's and this process's) to a log; return the error naming it.

    The log goes into the command's output folder when it has one (`folder`), else (a call with
    no folder, such as a run that writes nothing) into the system's temporary folder; the
    message says where it is.
    """
    configs = job.config if isinstance(job.config, tuple) else (job.config,)
    name = ", ".join(config.scenario.name for config in configs)
    text = (f"A worker failed on replication {job.replication} of {name} "
            f"(seed {job.seed}).\n\n" + "".join(traceback.format_exception(exc)))
    log = _write_log(text, folder, f"worker-error-{configs[0].scenario.name}-r{job.replication}.log")
    what = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
    return InputError("a worker process", None, f"replication {job.replication} of "
                      f"{name} failed with {type(exc).__name__} ({what}); its full traceback "
                      f"is in {log}.", "this is a fault of the program, not of your input: report it with that "
                      "log file; `--workers 1` runs the same work in this process.")


def _write_log(text: str, folder: Path | None, name: str) -> str:
    """Write `text` to `folder/name` (the temporary folder if there is none or it cannot be written)."""
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
            return str(folder / name)
        except OSError:  # a full disk or a read-only folder: the log still goes somewhere it can be read
            pass
    handle, log = tempfile.mkstemp(prefix="residency-worker-error-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    return log


@contextlib.contextmanager
def workers_born_ignoring_ctrl_c() -> Iterator[None]:
    """Start child processes with SIGINT ignored from their first instruction.

    A spawned worker imports the package before its initializer runs; Ctrl-C in that window
    would print a KeyboardInterrupt traceback from the worker's bootstrap. An ignored signal
    stays ignored across exec, and Python keeps it so, so the parent ignores SIGINT only while
    it starts the workers (the time of a few fork/exec calls) and then restores its handler.
    Outside the main thread (where signal handlers cannot be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def prepare_worker(parent: int, module: str | None = None) -> None:
    """Make a pool worker end with its parent, whatever kills the parent, and leave Ctrl-C to the parent.

    On Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG); everywhere a
    daemon thread also polls the parent's id, so a worker never outlives the command that
    started it by more than a second. The resource tracker then sees its pipe close and ends.
    `module`, the tasks' own, is imported first and what start-up left alive is frozen out of
    the garbage collector's reach (`settle_heap`), as on a Dask worker (`warm_worker`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool; no traceback per worker
    tune_allocator()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the poll below still works
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()
    if module is not None:
        importlib.import_module(module)
    settle_heap()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate a pool's workers at once rather than wait for their running tasks."""
    processes = getattr(pool, "_processes", None) or {}  # private, but the only handle on the workers
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()


class DaskExecutor:
    """Run jobs on an existing Dask distributed cluster."""

    def __init__(self, address: str, engine: Engine = "fast", log_folder: Path | None = None) -> None:
        self.engine = engine
        self.log_folder = log_folder
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--scheduler", None, "Dask is not installed, so a scheduler cannot be used.",
                             "install the extra with `pip install '.[dask]'` (or `pip install "
                             "'dask[distributed]'`), or leave out --scheduler to use local processes.") from None
        _check_reachable(address)
        self.address = address
        # The client and its connections log tracebacks when the scheduler is lost (which one logs
        # depends on what was in flight); the command reports the loss in one paragraph instead.
        for name in ("distributed.client", "distributed.batched", "distributed.comm", "distributed.core"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError("--scheduler", None, f"no Dask scheduler answered at {address} ({exc}).",
                             "start one with `dask scheduler` and `dask worker ADDRESS`, and pass its "
                             "tcp://HOST:PORT address.") from None
        self.warmed: set[str] = set()
        self.tasks = 0  # Dask tasks submitted so far (several jobs each where the jobs are short)

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        """Submit the jobs to the cluster, a few to a task where they are short, and yield results as they finish.

        Dask costs about 5 ms of CPU per task, between the client, the scheduler and the
        worker. The first tasks run one job each; from the time they take, later tasks take
        as many jobs as fill about `DASK_TASK_SECONDS` (at most `DASK_MOST_JOBS`, and never
        more than a quarter of what is left per worker thread, so the last tasks stay short
        and the workers finish together). A three-year explore job (a world's arrangements, about
        0.27 s) then goes up to fourteen to a task, and a sweep of one-day runs dozens.
        """
        from distributed import as_completed as dask_completed

        module = fn.__module__
        fn = functools.partial(fn, engine=self.engine)
        waiting = iter(jobs)  # as on the local pool, a job is taken only when it is submitted
        futures: dict[Any, list[Job]] = {}
        running = dask_completed()
        window = [0, 0.0]  # tasks to keep submitted (a few per worker thread), and when the cluster was last asked
        progress = {"taken": 0, "seconds": 0.0, "timed": 0}  # jobs submitted; seconds and count of jobs timed

        def size() -> int:
            """Return how many jobs the next task takes."""
            if not progress["timed"]:
                return 1
            mean = progress["seconds"] / progress["timed"]
            threads = max(1, window[0] // IN_FLIGHT_PER_WORKER)
            left = (len(jobs) - progress["taken"]) // (4 * threads)
            return int(max(1, min(DASK_MOST_JOBS, DASK_TASK_SECONDS // max(mean, 1e-6), left)))

        def top_up() -> None:
            """Submit tasks until the window is full; the window follows the workers as they join or leave."""
            if time.monotonic() - window[1] > 1.0:
                window[:] = [IN_FLIGHT_PER_WORKER * self.slots(), time.monotonic()]
            while len(futures) < window[0]:
                batch = list(itertools.islice(waiting, size()))
                if not batch:
                    return
                progress["taken"] += len(batch)
                payload = pickle.dumps([(job.config, job.seed, job.replication) for job in batch],
                                       protocol=pickle.HIGHEST_PROTOCOL)
                future = self.client.submit(run_pickled, fn, payload, pure=False)
                futures[future] = batch
                self.tasks += 1
                running.add(future)

        try:
            if module not in self.warmed:  # every worker, present and future, imports the task's code first
                self.client.register_plugin(_warm_worker_plugin(module), name=f"residency-warm-{module}")
                self.warmed.add(module)
            top_up()
        except (OSError, TimeoutError, CancelledError) as exc:
            raise self._lost(exc) from None
        try:
            for future in running:
                batch = futures.pop(future)
                failure: InputError | None = None
                try:
                    results, seconds = pickle.loads(future.result())
                except (OSError, TimeoutError, CancelledError) as exc:  # CommClosedError is an OSError
                    raise self._lost(exc) from None
                except Exception as exc:  # the task's jobs before the failed one still count
                    done = getattr(exc, DONE_BEFORE_FAILURE, None)
                    results, seconds = (pickle.loads(done) if isinstance(done, bytes) else []), 0.0
                    # a task's bug on a Dask worker: one paragraph, the traceback in a log
                    failure = exc if isinstance(exc, InputError) else worker_failure(batch[len(results)], exc,
                                                                                     self.log_folder)
                future.release()  # the cluster may drop the result as soon as the caller holds it
                if failure is None:
                    progress["seconds"] += seconds
                    progress["timed"] += len(batch)
                    try:
                        top_up()
                    except (OSError, TimeoutError, CancelledError) as exc:
                        raise self._lost(exc) from None
                yield from zip(batch, results, strict=False)
                if failure is not None:
                    raise failure from None
        finally:
            for future in futures:
                future.cancel()

    def slots(self) -> int:
        """Return the cluster's worker threads now (at least 1)."""
        try:
            return max(1, int(sum(self.client.nthreads().values())))
        except (OSError, TimeoutError, CancelledError) as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> InputError:
        """Return the error for a scheduler that stopped answering in the middle of a run."""
        return InputError("--scheduler", self.address, f"the Dask scheduler was lost during the run "
                          f"({type(exc).__name__}: {exc or 'no answer'}); every finished row is committed.",
                          "restart the scheduler and its workers (or leave out --scheduler) and run the same "
                          "command again: it resumes from the committed rows.")

    def close(self) -> None:
        """Disconnect from the cluster (the cluster itself keeps running)."""
        try:
            self.client.close(timeout=5)
        except (OSError, TimeoutError, CancelledError):  # the scheduler is already gone
            pass


def run_pickled(fn: Callable[..., Any], jobs: bytes) -> bytes:
    """Run a Dask task's jobs in turn, each (config, seed, replication); return their results and seconds, pickled.

    The jobs come pickled and the results go back pickled: the scheduler unpickles each task
    it is given and pickles it again for a worker, through Dask's own pickler, which calls
    Python code for every object (a world's configs cost it about 5 ms of CPU that way, taken
    from the workers on a small machine); as bytes they pass through untouched, and the
    standard pickler does the work in C. If a job fails, the results of the jobs before it
    travel with its exception (attribute `DONE_BEFORE_FAILURE`), so none is lost.
    """
    results: list[Any] = []
    started = time.perf_counter()
    for config, seed, replication in pickle.loads(jobs):  # bytes this process's client pickled
        try:
            results.append(fn(config, seed, replication))
        except Exception as exc:
            with contextlib.suppress(AttributeError, TypeError):  # an exception that takes no attribute loses them
                setattr(exc, DONE_BEFORE_FAILURE, pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
            raise
    return pickle.dumps((results, time.perf_counter() - started), protocol=pickle.HIGHEST_PROTOCOL)


def warm_worker(module: str) -> None:
    """Import a task's module and freeze the objects alive at start-up out of the garbage collector's reach.

    A Dask worker holds about twice the Python objects of a pool worker, so every full
    collection costs it more; frozen objects are never scanned again. The module is the mapped
    function's own, so this mechanism names no task of its callers.
    """
    importlib.import_module(module)
    settle_heap()


def _warm_worker_plugin(module: str) -> Any:
    """Return a Dask worker plugin that runs `warm_worker(module)` on every worker, present and future."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmWorker(WorkerPlugin):  # type: ignore[misc]
        """Call `warm_worker` when a worker starts."""

        def setup(self, worker: Any) -> None:
            """Warm the worker, set its allocator and stop its sampling profiler."""
            tune_allocator()
            stop_worker_profiler(worker)
            warm_worker(module)

    return WarmWorker()


def _check_reachable(address: str) -> None:
    """Fail at once, with a clear message, when nothing listens at a tcp://HOST:PORT address."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError("--scheduler", address, "the address is not of the form tcp://HOST:PORT.",
                         "give the address `dask scheduler` printed, such as tcp://127.0.0.1:8786.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=3.0).close()
    except OSError as exc:
        raise InputError("--scheduler", address, f"no Dask scheduler answered ({exc.strerror or exc}).",
                         "start one with `dask scheduler` and `dask worker ADDRESS`, and pass its "
                         "tcp://HOST:PORT address.") from None


def make_executor(workers: int | None, scheduler: str | None, engine: Engine = "fast",
                  log_folder: Path | None = None) -> Executor:
    """Return a Dask executor for a scheduler address, else a local one; either runs `engine`.

    A failed task's log goes into `log_folder` (the command's output folder) when given.
    """
    if scheduler:
        return DaskExecutor(scheduler, engine, log_folder)
    return LocalExecutor(workers, engine, log_folder, keep_pool=True)
