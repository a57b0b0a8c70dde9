"""Parallel, resumable sweeps: ``sweep(fn, points)`` on a local process pool or a Dask cluster.

``fn`` is a module-level function of one point (a spec-like frozen dataclass) returning a
result dataclass of named arrays (see :mod:`circuitsim.phases`). Every point is keyed by a
content hash (:func:`circuitsim.store.point_key`: function, point, its decks when ``fn``
declares them, ngspice version, the code that makes the record). With a ``store`` directory
each finished point is written at once; a rerun skips the points already stored, so an
interrupted sweep loses nothing. Points run in :class:`circuitsim.spice.pool.WorkerPool`
processes (libngspice is never shared between threads; the pool is kept for the next sweep,
:func:`circuitsim.spice.pool.borrow_pool`) or, with a scheduler address (argument
or ``CIRCUITSIM_SCHEDULER``), as tasks of a Dask distributed cluster. A point that fails (SPICE
error, timeout, crashed worker) is recorded as failed; the sweep carries on. A local task
may run ``CIRCUITSIM_TASK_TIMEOUT`` seconds (default 600; large transient decks on a loaded
machine need more).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from circuitsim.errors import CacheError, CircuitsimError, SimError, SpecError
from circuitsim.spice.ngspice import ngspice_version
from circuitsim.store import ResultStore, point_key

SCHEDULER_ENV = "CIRCUITSIM_SCHEDULER"
#: Seconds one local task may run before the pool stops it (unset: DEFAULT_TIMEOUT).
TIMEOUT_ENV = "CIRCUITSIM_TASK_TIMEOUT"
DEFAULT_TIMEOUT = 600.0


def task_timeout() -> float:
    """The local pool's per-task timeout: ``$CIRCUITSIM_TASK_TIMEOUT`` s or 600 s."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise SpecError(f"{TIMEOUT_ENV}={raw!r}: must be a positive number of seconds")
    return value


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one point: its result, or the error that stopped it."""

    index: int
    point: Any
    key: str  #: the content hash ("" when the sweep has no store)
    result: Any = None
    error: CircuitsimError | None = None
    cached: bool = False
    seconds: float = 0.0


@dataclass
class SweepResult:
    """Outcomes in the order of the points given."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def results(self) -> list[Any]:
        return [o.result for o in self.outcomes]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def n_cached(self) -> int:
        return sum(o.cached for o in self.outcomes)

    def summary(self) -> str:
        n = len(self.outcomes)
        return (f"{n} points: {n - len(self.failed) - self.n_cached} simulated, "
                f"{self.n_cached} from the store, {len(self.failed)} failed")


def _note(message: str) -> None:
    """A message to stderr that does not tear the progress bar."""
    tqdm.write(f"circuitsim: {message}", file=sys.stderr)


def _timed_call(task: tuple[Callable[[Any], Any], Any]) -> tuple[float, Any]:
    """Run one point (in a worker process or a Dask task) and time it."""
    fn, point = task
    start = time.perf_counter()
    result = fn(point)
    return time.perf_counter() - start, result


def _local(tasks: Sequence[tuple[Callable, Any]], workers: int | None, timeout: float,
           max_runs: int) -> Iterator[tuple[int, Any]]:
    """The tasks on this process's kept worker pool (its workers are reused by the next sweep
    after a clean finish, and killed after an error, Ctrl-C or an abandoned stream)."""
    from circuitsim.spice.pool import borrow_pool, return_pool

    modules = sorted({__name__} | {fn.__module__ for fn, _ in tasks})  # preloaded by workers
    pool = borrow_pool(workers, max_runs, timeout, modules)
    try:
        yield from pool.imap_unordered(_timed_call, tasks)
    except BaseException:
        pool.close(kill=True)
        raise
    return_pool(pool)


def _dask(tasks: Sequence[tuple[Callable, Any]], address: str) -> Iterator[tuple[int, Any]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise SpecError(f"--scheduler: dask.distributed is not installed ({exc})") from None
    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SpecError(f"--scheduler: cannot reach Dask scheduler {address!r}: {exc}") from None
    try:
        futures = client.map(_timed_call, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            i = index[future.key]
            if future.status == "finished":
                yield i, future.result()
            else:
                try:
                    exc = future.exception()
                except Exception as lost:  # noqa: BLE001 - cancelled or lost future
                    exc = lost
                err = exc if isinstance(exc, CircuitsimError) else SimError(
                    f"Dask task failed ({future.status}): {type(exc).__name__}: {exc}")
                yield i, err
    finally:
        client.close()


def sweep(fn: Callable[[Any], Any], points: Sequence[Any], *, store: Path | str | None = None,
          workers: int | None = None, scheduler: str | None = None,
          timeout: float | None | str = "env", max_runs: int = 200, progress: bool = True,
          desc: str | None = None) -> SweepResult:
    """Run ``fn`` on every point (see the module docstring); returns every outcome in order.
    ``timeout``: seconds per local task, None for none, "env" for :func:`task_timeout`.

    Ctrl-C stops the workers cleanly and re-raises ``KeyboardInterrupt``; points finished
    before it are in the store.
    """
    if workers is not None and workers < 1:
        raise SpecError(f"workers={workers!r}: must be >= 1")
    if timeout == "env":
        timeout = task_timeout()
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    db = ResultStore(store) if store is not None else None  # a bad store: before ngspice
    version = ngspice_version()
    # keys (which hash every point's decks) are only needed to find and file records
    keys = [point_key(fn, p, version) if db is not None else "" for p in points]
    outcomes: dict[int, Outcome] = {}
    bar = tqdm(total=len(points), desc=desc or f"sweep {fn.__name__}", unit="pt",
               disable=not progress, dynamic_ncols=True)
    todo: list[int] = []
    for i, (point, key) in enumerate(zip(points, keys, strict=True)):
        if db is not None and db.has(key):
            try:
                outcomes[i] = Outcome(i, point, key, db.load(key), cached=True)
                bar.update()
                continue
            except CacheError as exc:
                _note(f"{exc}; recomputing it")
                db.discard(key)
        todo.append(i)
    tasks = [(fn, points[i]) for i in todo]
    stream = _dask(tasks, scheduler) if scheduler else _local(tasks, workers, timeout, max_runs)
    try:
        for j, value in stream:
            i = todo[j]
            if isinstance(value, BaseException):
                err = value if isinstance(value, CircuitsimError) else SimError(str(value))
                outcomes[i] = Outcome(i, points[i], keys[i], error=err)
                if db is not None:
                    db.save_error(keys[i], fn, points[i], err)
                _note(f"point {i} failed: {err}")
            else:
                seconds, result = value
                if db is not None:
                    db.save(keys[i], fn, points[i], result, seconds)
                outcomes[i] = Outcome(i, points[i], keys[i], result, seconds=seconds)
            bar.update()
    except KeyboardInterrupt:
        done = sum(o.error is None for o in outcomes.values())
        _note(f"interrupted; {done} of {len(points)} points finished"
              + (f" and kept in {db.dir} (rerun to resume)" if db is not None else ""))
        raise
    finally:
        if hasattr(stream, "close"):
            stream.close()
        bar.close()
    return SweepResult([outcomes[i] for i in range(len(points))])
