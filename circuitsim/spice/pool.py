"""Worker processes that own libngspice: :class:`WorkerPool` and the process-wide pool.

libngspice holds one simulator per process, is not thread-safe and grows with every run, so
it runs only in worker processes started here: fresh interpreters (``python -c``, the
equivalent of multiprocessing's ``spawn``: nothing is forked from the caller), one task at a
time, each worker exiting after ``max_runs`` tasks to hand its memory back.

Workers are started with :class:`subprocess.Popen` and a socket pair wrapped in a
:class:`multiprocessing.connection.Connection`, not with ``multiprocessing.Process``: the
latter refuses to start children from a daemonic process, which is what a Dask worker or a
``multiprocessing.Pool`` worker is. The parent's ``sys.path``, working directory and (when the
function lives there) ``__main__`` are set up in the worker like ``spawn`` does.

The parent never blocks without a limit: it waits on the workers' sockets and process handles
(pidfds) with :func:`multiprocessing.connection.wait` and a timeout, so a worker that dies
(``os._exit``, SIGKILL, a segfault in libngspice) or overruns its time is noticed, killed if
needed, reaped and replaced. A worker tells the parent the run directory of each ngspice run
before it starts (:func:`report_running`), so a timeout or crash names the kept directory with
``deck.cir`` and the log written so far.

Front ends: :class:`WorkerPool` (``imap_unordered`` for sweeps) and :func:`call_shared` (one
call on a lazily created process-wide pool of up to ``os.cpu_count()`` workers, safe to use from
many threads; what ``simulate(backend="shared")`` uses outside a worker).
"""

from __future__ import annotations

import atexit
import collections
import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing import process as mp_process
from multiprocessing import spawn
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from circuitsim.errors import CircuitsimError, SimError
from circuitsim.rundirs import failed_run
from circuitsim.spec import require
from circuitsim.spice.control import unrunnable

#: A new worker must report ready within this many seconds (imports, ``__main__`` set-up).
STARTUP_TIMEOUT = 120.0
#: Longest single wait: process state is re-checked at least this often.
_POLL = 1.0
#: Seconds a pool kept between sweeps waits for the next sweep before its workers are stopped.
KEEP_IDLE = 120.0
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.insert(0, {root!r}); "
         "from circuitsim.spice.pool import _worker_main; _worker_main({fd})")

TaskOutcome = tuple[int, bool, Any]  # (index, ok, value)


# ------------------------------------------------------------------ parent side: one worker

class _Worker:
    """Parent-side handle of one worker process and its current task."""

    def __init__(self, max_runs: int, with_main: bool, preload: Sequence[str]) -> None:
        parent_sock, child_sock = socket.socketpair()
        try:
            fd = child_sock.fileno()
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(root=_ROOT, fd=fd)], pass_fds=(fd,),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except OSError as exc:
            parent_sock.close()
            raise SimError(f"cannot start a worker process: {exc}") from exc
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        try:
            self.pidfd: int | None = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.max_runs = max_runs
        self.with_main = with_main  # imported the parent's __main__ (its functions run here)
        self.tasks = 0
        self.ready = False
        self.dead = False
        self.started = time.monotonic()
        self.index: int | None = None
        self.task_deadline: float | None = None
        self.task_timeout: float | None = None
        self.run_dir: Path | None = None
        self.run_deadline: float | None = None
        self.run_timeout: float | None = None
        try:
            self.conn.send(("init", _preparation(with_main, preload), max_runs, os.getpid()))
        except OSError:
            self._died()

    def waitables(self) -> list[Any]:
        return [self.conn] if self.pidfd is None else [self.conn, self.pidfd]

    def usable(self) -> bool:
        """Idle, alive and allowed another task."""
        return (not self.dead and self.index is None and self.tasks < self.max_runs
                and self.proc.poll() is None)

    def submit(self, index: int, payload: bytes, timeout: float | None) -> None:
        """Send a task (raises OSError if the worker is gone)."""
        self.conn.send(("task", index, payload))
        self.tasks += 1
        self.index = index
        self.task_timeout = timeout
        self.task_deadline = None if timeout is None else time.monotonic() + timeout

    def deadline(self) -> float | None:
        found = [d for d in (self.task_deadline, self.run_deadline) if d is not None]
        if not self.ready:
            found.append(self.started + STARTUP_TIMEOUT)
        return min(found, default=None)

    def step(self) -> TaskOutcome | None:
        """Take what the worker sent, or notice its death; the outcome when its task ended."""
        try:
            while self.conn.poll(0):
                outcome = self._message(self.conn.recv())
                if outcome is not None:
                    return outcome
        except (EOFError, OSError):
            return self._died()
        except Exception as exc:  # a result that does not unpickle here
            return self._finish(False, SimError(f"cannot read the worker's result: {exc!r}",
                                                log=traceback.format_exc()))
        if self.proc.poll() is not None:
            return self._died()
        return None

    def expire(self, now: float) -> TaskOutcome | None:
        """Kill the worker if its task, run or start-up is past its time limit."""
        if self.run_deadline is not None and now >= self.run_deadline:
            why = f"ngspice exceeded its {self.run_timeout:g} s timeout"
        elif self.task_deadline is not None and now >= self.task_deadline:
            why = (f"task exceeded the pool's {self.task_timeout:g} s timeout "
                   "(CIRCUITSIM_TASK_TIMEOUT sets it)")
        elif not self.ready and now >= self.started + STARTUP_TIMEOUT:
            why = f"worker did not start within {STARTUP_TIMEOUT:g} s (timeout)"
        else:
            return None
        self.kill()
        return self._finish(False, self._failure(why)) if self.index is not None else None

    def _message(self, msg: tuple[Any, ...]) -> TaskOutcome | None:
        kind = msg[0]
        if kind == "ready":
            self.ready = True
        elif kind == "running":
            self.run_dir, self.run_timeout = Path(msg[1]), msg[2]
            self.run_deadline = None if msg[2] is None else time.monotonic() + msg[2]
        elif kind == "ran":
            self.run_dir = self.run_deadline = self.run_timeout = None
        elif kind == "result":
            return self._finish(msg[2], msg[3])
        return None

    def _finish(self, ok: bool, value: Any) -> TaskOutcome:
        index = self.index if self.index is not None else -1
        self.index = self.task_deadline = self.task_timeout = None
        self.run_dir = self.run_deadline = self.run_timeout = None
        return index, ok, value

    def _died(self) -> TaskOutcome | None:
        try:
            code = self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # socket closed but process hanging on
            self.kill()
            code = self.proc.returncode
        self.close()
        if self.index is None:
            return None
        return self._finish(False, self._failure(f"worker crashed (exit code {code})"))

    def _failure(self, why: str) -> SimError:
        """The error for a task that ended in a timeout or crash, naming the run dir if any."""
        if self.run_dir is None:
            return SimError(why)
        deck_path, log_path = self.run_dir / "deck.cir", self.run_dir / "ngspice.log"
        deck = unrunnable(deck_path.read_text()) if deck_path.exists() else ""
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        if self.run_dir.exists() and not log_path.exists():
            log_path.write_text(log)
        return failed_run(self.run_dir, why, deck, log)

    def kill(self) -> None:
        """SIGKILL the worker and reap it (no zombie)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.close()

    def reap(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a retiring worker to exit by itself, else kill it."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if timeout > 0:
                self.kill()
            return timeout > 0
        self.close()
        return True

    def close(self) -> None:
        self.dead = True
        self.conn.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def call(self, payload: bytes, timeout: float | None) -> TaskOutcome:
        """Run one task on this worker, blocking the calling thread (with time limits)."""
        while not self.ready:
            self._wait_once()
            self.step()
            if not self.ready:
                self.expire(time.monotonic())
            if self.dead:
                raise self.start_failure()
        self.submit(0, payload, timeout)
        while True:
            self._wait_once()
            outcome = self.step() or self.expire(time.monotonic())
            if outcome is not None:
                return outcome

    def start_failure(self) -> SimError:
        return SimError(f"a worker process failed to start within {STARTUP_TIMEOUT:g} s "
                        f"(exit code {self.proc.returncode}; its stderr says why)")

    def _wait_once(self) -> None:
        deadline = self.deadline()
        slice_ = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
        wait(self.waitables(), timeout=slice_)


def _preparation(with_main: bool, preload: Sequence[str]) -> dict[str, Any]:
    """What :func:`multiprocessing.spawn.prepare` needs to make a worker look like this process
    (built here: ``spawn.get_preparation_data`` would fix multiprocessing's start method)."""
    here = mp_process.ORIGINAL_DIR or os.getcwd()
    data: dict[str, Any] = {
        "name": "circuitsim-worker", "sys_path": [p or here for p in sys.path],
        "sys_argv": list(sys.argv), "dir": os.getcwd(), "orig_dir": here,
    }
    # modules a worker imports before it reports ready, so the module of a task's function is
    # loaded outside the task's timeout (the package is lazy)
    data["preload"] = list(preload)
    main = sys.modules.get("__main__")
    if with_main and main is not None:
        name = getattr(getattr(main, "__spec__", None), "name", None)
        path = getattr(main, "__file__", None)
        if name is not None:
            data["init_main_from_name"] = name
        elif path is not None:
            data["init_main_from_path"] = os.path.normpath(os.path.join(here, path))
    return data


def _wait_any(workers: Iterable[_Worker]) -> None:
    workers = list(workers)
    deadlines = [d for w in workers if (d := w.deadline()) is not None]
    slice_ = _POLL
    if deadlines:
        slice_ = max(0.0, min(_POLL, min(deadlines) - time.monotonic()))
    wait([x for w in workers for x in w.waitables()], timeout=slice_)


# ------------------------------------------------------------------ WorkerPool

class WorkerPool:
    """Worker processes for running module-level functions (ngspice runs among them).

    ``workers`` processes at most (default ``os.cpu_count()``), each exiting after ``max_runs``
    tasks and replaced; a task running longer than ``timeout`` seconds (``None``: no limit) gets
    its worker killed. Use as a context manager: leaving it stops the workers, or kills them
    all when leaving on an exception (KeyboardInterrupt included). A worker imports the modules
    in ``preload`` (default: the module of the function it runs) before it takes a task, so
    their import does not count against a task's timeout.
    """

    def __init__(self, workers: int | None = None, max_runs: int = 200,
                 timeout: float | None = 600.0, preload: Sequence[str] | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        require(isinstance(self.workers, int) and self.workers >= 1, "workers", workers,
                "must be an int >= 1")
        require(isinstance(max_runs, int) and max_runs >= 1, "max_runs", max_runs,
                "must be an int >= 1")
        require(timeout is None or timeout > 0, "timeout", timeout, "must be > 0 or None")
        self.max_runs = max_runs
        self.timeout = timeout
        self.preload = preload
        self._idle: list[_Worker] = []  # kept between imap_unordered calls
        self._all: set[_Worker] = set()  # every live worker, also those of a running imap
        self.kept_key: tuple[Any, ...] = ()  # set by borrow_pool
        self.kept_timer: threading.Timer | None = None  # stops it while kept (return_pool)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(kill=exc_type is not None)

    def close(self, kill: bool = False) -> None:
        """Stop the workers: idle ones are asked to exit, busy ones (or all, with ``kill``)
        are killed; all are reaped."""
        workers, self._all, self._idle = list(self._all), set(), []
        polite = [w for w in workers if not kill and w.ready and w.index is None and not w.dead]
        _stop(workers, polite, 5.0)

    def _start(self, with_main: bool, preload: Sequence[str]) -> _Worker:
        w = _Worker(self.max_runs, with_main, preload)
        self._all.add(w)
        return w

    def _drop(self, w: _Worker, kill: bool = True) -> None:
        self._all.discard(w)
        if kill:
            w.kill()

    def imap_unordered(self, fn: Callable[[Any], Any],
                       items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Run ``fn(item)`` for every item in the workers; yield ``(index, value)`` in the order
        they finish, every index exactly once. ``value`` is what ``fn`` returned, or a
        :class:`CircuitsimError` instance: the one ``fn`` raised, or a :class:`SimError` for any
        other exception (traceback in ``.log``), a crashed worker ("worker crashed (exit code
        N)") or a timeout. ``fn`` must be importable by name (module level)."""
        if _BOOTSTRAPPING:
            raise RuntimeError("a WorkerPool was used while a worker process imported the "
                               "main module; guard the script with if __name__ == '__main__':")
        module = getattr(fn, "__module__", None)
        with_main = module == "__main__"
        preload = self.preload if self.preload is not None else [module] if module else []
        source = iter(enumerate(items))
        exhausted = False
        pending: collections.deque[tuple[int, bytes]] = collections.deque()
        done: collections.deque[tuple[int, Any]] = collections.deque()
        kept, self._idle = self._idle, []
        if with_main:  # fn lives in __main__: only workers that imported it can run it
            for w in [w for w in kept if not w.with_main]:
                self._drop(w)
            kept = [w for w in kept if w.with_main]
        idle = [w for w in kept if w.usable() and w.ready]
        starting = [w for w in kept if w.usable() and not w.ready]
        for w in kept:
            if w not in idle and w not in starting:
                self._drop(w)
        busy: list[_Worker] = []
        retiring: list[_Worker] = []
        try:
            while True:
                while not exhausted and len(pending) < max(self.workers - len(busy), 1):
                    try:
                        index, item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    try:
                        pending.append((index, pickle.dumps((fn, item), pickle.HIGHEST_PROTOCOL)))
                    except Exception as exc:
                        done.append((index, SimError(f"cannot send item {index} to a worker: "
                                                     f"{exc!r}")))
                while pending and idle:
                    w = idle.pop()
                    index, payload = pending.popleft()
                    try:
                        w.submit(index, payload, self.timeout)
                        busy.append(w)
                    except OSError:  # died while idle: not this item's fault
                        pending.appendleft((index, payload))
                        self._drop(w)
                while (len(pending) > len(starting)
                       and len(idle) + len(starting) + len(busy) < self.workers):
                    starting.append(self._start(with_main, preload))
                while done:
                    yield done.popleft()
                for w in [w for w in retiring if w.reap(0)]:
                    retiring.remove(w)
                    self._drop(w, kill=False)
                if exhausted and not pending and not busy:
                    break
                _wait_any(busy + starting)
                now = time.monotonic()
                for w in list(starting):
                    w.step()
                    w.expire(now)
                    if w.dead:
                        raise w.start_failure()
                    if w.ready:
                        starting.remove(w)
                        idle.append(w)
                for w in list(busy):
                    outcome = w.step() or w.expire(now)
                    if outcome is None:
                        continue
                    busy.remove(w)
                    done.append((outcome[0], outcome[2]))
                    if w.usable():
                        idle.append(w)
                    elif w.dead:
                        self._drop(w)
                    else:
                        retiring.append(w)  # exits by itself after its last task
            for w in retiring:
                w.reap(5.0)
                self._drop(w, kill=False)
            self._idle = idle + starting
        except BaseException as exc:
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            for w in busy + starting + retiring + (idle if interrupted else []):
                self._drop(w)
            if not interrupted:
                self._idle = idle
            raise


# ------------------------------------------------------------------ process-wide pool

class _SharedPool:
    """Up to ``os.cpu_count()`` workers shared by the threads of one process."""

    def __init__(self, max_runs: int = 200) -> None:
        self.pid = os.getpid()
        self.max_runs = max_runs
        self.limit = os.cpu_count() or 1
        self.cond = threading.Condition()
        self.idle: list[_Worker] = []
        self.workers: set[_Worker] = set()
        self.closed = False

    def call(self, fn: Callable[[Any], Any], item: Any, timeout: float | None) -> Any:
        payload = pickle.dumps((fn, item), pickle.HIGHEST_PROTOCOL)
        w = self._checkout(fn.__module__)
        outcome = None
        try:
            outcome = w.call(payload, timeout)
        finally:
            self._checkin(w, outcome is not None)
        _, ok, value = outcome
        if not ok:
            raise value
        return value

    def _checkout(self, module: str) -> _Worker:
        """An idle worker, or a new one that imports ``module`` before it is ready."""
        with self.cond:
            while True:
                if self.closed:
                    raise SimError("the shared ngspice worker pool is shut down")
                while self.idle:
                    w = self.idle.pop()
                    if w.usable():
                        return w
                    self.workers.discard(w)
                    w.kill()
                if len(self.workers) < self.limit:
                    w = _Worker(self.max_runs, with_main=False, preload=(module,))
                    self.workers.add(w)
                    return w
                self.cond.wait()

    def _checkin(self, w: _Worker, finished: bool) -> None:
        with self.cond:
            keep = finished and not self.closed and w.usable()
            if keep:
                self.idle.append(w)
            else:
                self.workers.discard(w)
            self.cond.notify()
        if keep:
            return
        if finished and not w.dead and w.tasks >= w.max_runs:
            w.reap(5.0)  # after its last task it exits by itself
        else:
            w.kill()

    def close(self) -> None:
        """Stop the idle workers, kill the busy ones (their callers get a SimError)."""
        with self.cond:
            self.closed = True
            idle, workers, self.workers, self.idle = self.idle, list(self.workers), set(), []
            self.cond.notify_all()
        _stop(workers, idle, 2.0)


def _stop(workers: list[_Worker], polite: list[_Worker], reap_timeout: float) -> None:
    """Ask the ``polite`` workers to exit and reap them; kill every other one."""
    for w in polite:
        try:
            w.conn.send(("stop",))
        except OSError:
            pass
    for w in workers:
        if w in polite:
            w.reap(reap_timeout)
        else:
            w.kill()


_SHARED: _SharedPool | None = None
_SHARED_LOCK = threading.Lock()


def call_shared(fn: Callable[[Any], Any], item: Any, timeout: float | None) -> Any:
    """``fn(item)`` on an idle worker of the process-wide pool (started on first use): returns
    its value or raises its error (crash, timeout: :class:`SimError`). Thread-safe."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED.pid != os.getpid():
            _SHARED = _SharedPool()
        shared = _SHARED
    return shared.call(fn, item, timeout)


def shutdown_shared() -> None:
    """Kill the process-wide pool's workers (at interpreter exit; later calls restart it)."""
    global _SHARED
    with _SHARED_LOCK:
        shared, _SHARED = _SHARED, None
    if shared is not None and shared.pid == os.getpid():
        shared.close()


# Pools kept between sweeps: starting a worker costs a Python start and its imports (0.3-1 s of
# CPU), so consecutive sweeps with the same settings reuse the idle workers of the last one
# instead of starting new ones (a pool not borrowed again within KEEP_IDLE s is stopped).
# A worker keeps the environment and working directory it started with, so both are part of
# the key: a sweep after a change of either starts fresh workers.
_KEPT: dict[tuple[Any, ...], WorkerPool] = {}
_KEPT_LOCK = threading.Lock()


def _kept_key(workers: int | None, max_runs: int, timeout: float | None) -> tuple[Any, ...]:
    return workers, max_runs, timeout, os.getcwd(), tuple(sorted(os.environ.items()))


def borrow_pool(workers: int | None, max_runs: int, timeout: float | None,
                preload: Sequence[str] | None = None) -> WorkerPool:
    """The idle pool an earlier sweep of this process left with these settings (and this
    environment and working directory), or a new one. Hand it back with :func:`return_pool`
    after a clean finish; close it (killing its workers) after anything else."""
    key = _kept_key(workers, max_runs, timeout)
    with _KEPT_LOCK:
        pool = _KEPT.pop(key, None)
        if pool is not None and pool.kept_timer is not None:
            pool.kept_timer.cancel()  # one sleeping timer per kept pool, not one per sweep
            pool.kept_timer = None
    if pool is None:
        pool = WorkerPool(workers, max_runs, timeout, preload)
        pool.kept_key = key
    pool.preload = preload  # workers started for this sweep load this sweep's modules
    return pool


def return_pool(pool: WorkerPool) -> None:
    """Keep ``pool``'s idle workers for the next sweep: stopped (and reaped) when no sweep
    borrows it within :data:`KEEP_IDLE` seconds, or at interpreter exit."""
    with _KEPT_LOCK:
        kept = _KEPT.setdefault(pool.kept_key, pool)
        if kept is pool:
            pool.kept_timer = threading.Timer(KEEP_IDLE, _expire, (pool,))
            pool.kept_timer.daemon = True
            pool.kept_timer.start()
    if kept is not pool:  # another thread's sweep kept one first
        pool.close()


def _expire(pool: WorkerPool) -> None:
    with _KEPT_LOCK:
        if (_KEPT.get(pool.kept_key) is not pool
                or pool.kept_timer is not threading.current_thread()):
            return  # borrowed (and maybe kept again) since
        del _KEPT[pool.kept_key]
    pool.close()


def close_kept_pools() -> None:
    """Stop the workers of every kept pool (at interpreter exit; later sweeps start anew)."""
    with _KEPT_LOCK:
        pools = list(_KEPT.values())
        _KEPT.clear()
    for pool in pools:
        pool.close()


def _forget_after_fork() -> None:
    global _SHARED, _SHARED_LOCK, _KEPT, _KEPT_LOCK
    _SHARED, _SHARED_LOCK = None, threading.Lock()  # the parent's workers are not ours
    _KEPT, _KEPT_LOCK = {}, threading.Lock()


atexit.register(shutdown_shared)
atexit.register(close_kept_pools)
os.register_at_fork(after_in_child=_forget_after_fork)


# ------------------------------------------------------------------ worker side

_CHANNEL: _Channel | None = None
_BOOTSTRAPPING = False


class _Channel:
    """The worker's end of the socket (sends are serialised: fn may use threads)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, msg: tuple[Any, ...]) -> None:
        with self.lock:
            self.conn.send(msg)


def in_worker() -> bool:
    """True inside a circuitsim worker process (libngspice may run here)."""
    return _CHANNEL is not None


def report_running(run_dir: Path, timeout: float | None) -> None:
    """Tell the parent an ngspice run starts in ``run_dir`` (kill it after ``timeout`` s)."""
    if _CHANNEL is not None:
        _CHANNEL.send(("running", str(run_dir), timeout))


def report_ran() -> None:
    """Tell the parent the ngspice run announced by :func:`report_running` is over."""
    if _CHANNEL is not None:
        _CHANNEL.send(("ran",))


def _worker_main(fd: int) -> None:
    """Entry point of a worker process (started by :class:`_Worker`)."""
    global _CHANNEL, _BOOTSTRAPPING
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    conn = Connection(fd)
    try:
        _, preparation, max_runs, parent_pid = conn.recv()
    except (EOFError, OSError):
        os._exit(0)
    _CHANNEL = _Channel(conn)
    _BOOTSTRAPPING = True
    modules = preparation.pop("preload", [])
    spawn.prepare(preparation)
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # e.g. a module the parent loaded from elsewhere
            pass
    _BOOTSTRAPPING = False
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    _CHANNEL.send(("ready", os.getpid()))
    for _ in range(max_runs):
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg[0] != "task":
            break
        ok, value = _execute(msg[2])
        try:
            _send_result(msg[1], ok, value)
        except OSError:
            break
        backend = sys.modules.get("circuitsim.spice.shared_backend")
        if backend is not None and not backend.after_task():
            break
    conn.close()
    sys.stderr.flush()
    os._exit(0)


def _execute(payload: bytes) -> tuple[bool, Any]:
    try:
        fn, item = pickle.loads(payload)
        return True, fn(item)
    except CircuitsimError as exc:
        return False, _portable(exc)
    except BaseException as exc:
        return False, SimError(f"{type(exc).__name__}: {exc}", log=traceback.format_exc())


def _portable(exc: CircuitsimError) -> CircuitsimError:
    """``exc`` if it survives pickling, else a SimError with its message and attributes."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return SimError(f"{type(exc).__name__}: {exc}", deck=getattr(exc, "deck", ""),
                        log=getattr(exc, "log", "") or "".join(traceback.format_exception(exc)),
                        run_dir=getattr(exc, "run_dir", None))


def _send_result(index: int, ok: bool, value: Any) -> None:
    assert _CHANNEL is not None
    try:
        _CHANNEL.send(("result", index, ok, value))
    except OSError:
        raise
    except Exception as exc:  # the value does not pickle
        _CHANNEL.send(("result", index, False,
                       SimError(f"the result of item {index} cannot be sent back: {exc!r}")))


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone (even while libngspice is busy: cffi releases the GIL)."""
    while os.getppid() == parent_pid:
        time.sleep(_POLL)
    os._exit(1)
