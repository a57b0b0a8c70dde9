"""The shared (libngspice in worker processes) backend and its worker pool.

Checked against the batch backend (an independent ``ngspice -b`` process and raw-file reader)
on every golden testbench, and on every way a run or a worker can fail: a bad deck, a
non-converging deck, a timeout, a crashed worker (also in the middle of an ngspice run), an
exception in the task; plus recycling, interrupt handling and use from many threads.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from circuitsim.errors import CircuitsimError, NetlistError, SimError, SpecError
from circuitsim.netlist import golden
from circuitsim.spice import pool
from circuitsim.spice.pool import WorkerPool
from circuitsim.spice.runner import SimOptions, simulate

RC = """* rc step
V1 a 0 pwl(0 0 1n 1)
R1 a b 1k
C1 b 0 1n
.tran 10n 5u
.save v(b) i(V1)
.meas tran vb1 FIND v(b) AT=1u
.meas tran never WHEN v(b)=5 RISE=1
.end
"""
#: R1 has no value: ngspice ignores the line and node b floats (singular matrix)
SYNTAX_ERROR = RC.replace("R1 a b 1k", "R1 a b")
#: a current source that flips sign around 0.5 V on a 1 fF node once the transient starts
NON_CONVERGING = """* non-converging: no time step can pass the flip of B1
.options klu
V1 in 0 pwl(0 0 10n 1)
R1 in a 1k
B1 a 0 i={1e3*(v(a)>0.5 ? 1 : -1)*(time>0 ? 1 : 0)}
C1 a 0 1f
.tran 1n 100n
.end
"""
#: a billion 1 ps steps: never finishes within the tests' timeouts
# runs for hours: the 1 ps maximum step forces 1e9 steps, while the 1 ms print step keeps
# ngspice's up-front estimate of the output size small (tstop/tstep points x vectors; with a
# 1 ps print step that product overflows and ngspice refuses the run with "memory required")
ENDLESS = RC.replace(".tran 10n 5u", ".tran 1m 1m 0 1p")


@functools.cache
def golden_testbenches() -> dict[str, str]:
    return {n: d for n, d in golden.examples() if n.startswith("tb_")}


def assert_kept_run_dir(err: SimError, deck: str) -> None:
    assert err.deck == deck and err.log and err.run_dir is not None
    assert (err.run_dir / "deck.cir").exists() and (err.run_dir / "ngspice.log").exists()
    assert "run dir kept" in str(err)


# ---------------------------------------------------------------- functions run in workers

def work(item: tuple[str, object]) -> object:
    kind, arg = item
    if kind == "value":
        return arg
    if kind == "raise":
        raise ValueError(f"bad item {arg}")
    if kind == "spec":
        raise SpecError("cell.c=0: must be > 0")
    if kind == "exit":
        os._exit(3)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "sleep":
        time.sleep(float(arg))  # type: ignore[arg-type]
        return arg
    raise AssertionError(kind)


def worker_pid(_: object) -> int:
    return os.getpid()


def simulate_in_worker(deck: str) -> tuple[object, bool, bool, bool]:
    from circuitsim.spice import shared_backend

    result = simulate(deck)
    return result, pool.in_worker(), shared_backend._ENGINE is not None, pool._SHARED is None


def killed_during_run(deck: str) -> object:
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGKILL)).start()
    return simulate(deck)


def write_pid_then_sleep(path: str) -> None:
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(600)


# ---------------------------------------------------------------- both backends agree

@pytest.mark.spice
@pytest.mark.parametrize("name", sorted(golden_testbenches()))
def test_shared_and_batch_backends_give_the_same_numbers(name):
    deck, libraries = golden.runnable(golden_testbenches()[name])
    shared = simulate(deck, SimOptions(libraries=tuple(libraries)))
    batch = simulate(deck, SimOptions(backend="batch", libraries=tuple(libraries)))
    assert list(shared.signals) == list(batch.signals)  # same names, same order
    np.testing.assert_allclose(shared.time, batch.time, rtol=1e-12, atol=0)
    for key, ref in batch.signals.items():
        scale = max(float(np.max(np.abs(ref))), 1e-30)
        np.testing.assert_allclose(shared[key], ref, rtol=1e-9, atol=1e-12 * scale, err_msg=key)
    assert shared.meas.keys() == batch.meas.keys() and shared.meas
    for key, ref in batch.meas.items():  # printed with 6 significant digits
        assert shared.meas[key] == pytest.approx(ref, rel=1e-6, nan_ok=True), key
    assert shared.ngspice_version == batch.ngspice_version


@pytest.mark.spice
def test_result_holds_only_plain_types_and_pyspice_stays_in_the_workers():
    res = simulate(RC)
    assert type(res.time) is np.ndarray and res.time.dtype == np.float64
    assert set(res.signals) == {"v(b)", "i(v1)"}
    assert all(type(v) is np.ndarray and v.dtype == np.float64 and v.shape == res.time.shape
               for v in res.signals.values())
    assert all(type(v) is float for v in res.meas.values())
    assert res.meas["vb1"] == pytest.approx(np.interp(1e-6, res.time, res["v(b)"]), rel=1e-5)
    assert np.isnan(res.meas["never"])  # a failed measurement is NaN, not an error
    assert type(res.ngspice_version) is str and type(res.wall_time) is float
    assert type(res.log) is str and "vb1" in res.log
    assert not any(m.split(".")[0] == "PySpice" for m in sys.modules)


@pytest.mark.spice
def test_simulate_inside_a_worker_runs_in_that_worker():
    with WorkerPool(workers=1) as workers:
        [(index, value)] = list(workers.imap_unordered(simulate_in_worker, [RC]))
    result, in_worker, own_engine, no_nested_pool = value
    assert index == 0 and in_worker and own_engine and no_nested_pool
    assert result.meas["vb1"] == pytest.approx(simulate(RC).meas["vb1"])


# ---------------------------------------------------------------- failures

@pytest.mark.spice
def test_syntax_error_raises_with_deck_log_and_kept_run_dir():
    with pytest.raises(SimError, match="singular matrix") as info:
        simulate(SYNTAX_ERROR)
    assert_kept_run_dir(info.value, SYNTAX_ERROR)
    assert "not a valid resistor" in info.value.log


@pytest.mark.spice
def test_non_converging_deck_raises_timestep_too_small():
    with pytest.raises(SimError, match="(?i)timestep too small") as info:
        simulate(NON_CONVERGING)
    assert_kept_run_dir(info.value, NON_CONVERGING)
    assert simulate(RC).meas["vb1"] > 0.6  # the worker's ngspice is still usable


@pytest.mark.spice
def test_timeout_kills_the_run_keeps_its_dir_and_the_next_run_works():
    start = time.monotonic()
    with pytest.raises(SimError, match="timeout") as info:
        simulate(ENDLESS, SimOptions(timeout=1.0))
    assert time.monotonic() - start < 10
    err = info.value
    assert err.deck == ENDLESS and err.run_dir is not None
    assert (err.run_dir / "deck.cir").exists() and (err.run_dir / "ngspice.log").exists()
    assert "Circuit: * rc step" in err.log  # what ngspice printed before it was killed
    assert simulate(RC).meas["vb1"] > 0.6


@pytest.mark.spice
def test_worker_killed_during_a_run_names_the_run_dir_and_the_pool_carries_on():
    items = [ENDLESS, RC, RC]
    fns = {0: killed_during_run}
    with WorkerPool(workers=1, timeout=30) as workers:
        out = dict(workers.imap_unordered(_dispatch, [(fns.get(i), d) for i, d in
                                                      enumerate(items)]))
    assert sorted(out) == [0, 1, 2]
    err = out[0]
    assert isinstance(err, SimError) and "worker crashed (exit code -9)" in str(err)
    assert err.deck == ENDLESS and err.run_dir is not None
    assert (err.run_dir / "deck.cir").exists() and (err.run_dir / "ngspice.log").exists()
    assert out[1].meas["vb1"] == pytest.approx(out[2].meas["vb1"]) and out[1].meas["vb1"] > 0.6


def _dispatch(item: tuple[object, str]) -> object:
    fn, deck = item
    return (fn or simulate)(deck)  # type: ignore[operator]


def test_every_failure_becomes_an_error_value_and_the_rest_completes():
    items = [("value", 0), ("raise", 1), ("spec", 2), ("exit", 3), ("sigkill", 4),
             ("sleep", 600), *[("value", i) for i in range(6, 12)]]
    start = time.monotonic()
    with WorkerPool(workers=2, max_runs=4, timeout=2.0) as workers:
        seen = list(workers.imap_unordered(work, items))
    # the sleeper was killed at its 2 s timeout, not waited for (a bound far from both, so a
    # loaded machine does not fail it)
    assert time.monotonic() - start < 300
    assert sorted(i for i, _ in seen) == list(range(len(items)))  # each index exactly once
    out = dict(seen)
    assert out[0] == 0 and [out[i] for i in range(6, 12)] == list(range(6, 12))
    assert type(out[1]) is SimError and "ValueError: bad item 1" in str(out[1])
    assert "Traceback" in out[1].log
    assert type(out[2]) is SpecError  # circuitsim errors arrive as they were raised
    assert str(out[3]) == "worker crashed (exit code 3)"
    assert str(out[4]) == "worker crashed (exit code -9)"
    assert isinstance(out[5], SimError) and "timeout" in str(out[5])
    assert all(isinstance(out[i], CircuitsimError) for i in range(1, 6))


def test_the_task_modules_import_does_not_count_against_the_timeout(tmp_path, monkeypatch):
    """A worker imports the task function's module before it reports ready."""
    (tmp_path / "slow_import_task.py").write_text(
        "import time\nfrom circuitsim.spice.pool import in_worker\n"
        "if in_worker():\n    time.sleep(1.5)\n\ndef double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import slow_import_task

    with WorkerPool(workers=1, timeout=1.0) as workers:
        assert dict(workers.imap_unordered(slow_import_task.double, [3])) == {0: 6}


def test_workers_are_recycled_after_max_runs():
    with WorkerPool(workers=1, max_runs=3) as workers:
        pids = dict(workers.imap_unordered(worker_pid, range(9)))
    assert sorted(pids) == list(range(9))
    counts = sorted(list(pids.values()).count(p) for p in set(pids.values()))
    assert counts == [3, 3, 3]


def test_pool_is_reused_across_calls_and_items_can_be_a_generator():
    with WorkerPool(workers=2, max_runs=100) as workers:
        first = dict(workers.imap_unordered(worker_pid, (i for i in range(4))))
        second = dict(workers.imap_unordered(worker_pid, iter(range(4))))
    assert set(second.values()) <= set(first.values())


def test_keyboard_interrupt_kills_the_workers_and_leaves_no_zombies(tmp_path):
    paths = [str(tmp_path / f"pid{i}") for i in range(2)]

    def interrupt_when_both_run() -> None:
        deadline = time.monotonic() + 120  # worker start under load
        while not all(os.path.exists(p) and Path(p).read_text() for p in paths):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_both_run, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with WorkerPool(workers=2) as workers:
            list(workers.imap_unordered(write_pid_then_sleep, paths))
    assert time.monotonic() - start < 300  # interrupted, not waiting for the 600 s sleepers
    for p in paths:
        with pytest.raises(ProcessLookupError):  # killed and reaped, not a zombie
            os.kill(int(Path(p).read_text()), 0)


@pytest.mark.spice
def test_simulate_from_many_threads_shares_the_process_wide_pool():
    decks = [RC.replace("R1 a b 1k", f"R1 a b {r}k") for r in (1, 2, 3, 4, 5, 6)]
    with ThreadPoolExecutor(max_workers=6) as threads:
        results = list(threads.map(simulate, decks))
    for r_k, res in zip((1, 2, 3, 4, 5, 6), results, strict=True):
        tau = r_k * 1e3 * 1e-9
        assert res.meas["vb1"] == pytest.approx(1 - np.exp(-(1e-6 - 0.5e-9) / tau), abs=2e-3)
    assert pool._SHARED is not None and len(pool._SHARED.workers) <= (os.cpu_count() or 1)


def simulate_in_daemon(_: object) -> tuple[float, list[int]]:
    assert multiprocessing.current_process().daemon
    return simulate(RC).meas["vb1"], [w.proc.pid for w in pool._SHARED.workers]


def exited(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.spice
def test_simulate_works_in_a_daemonic_process_and_orphaned_workers_exit():
    # a multiprocessing.Pool (or Dask) worker is daemonic: multiprocessing.Process refuses to
    # start children there, the shared backend's workers still start
    with multiprocessing.get_context("spawn").Pool(1) as daemons:
        vb1, pids = daemons.apply(simulate_in_daemon, (None,))
    assert vb1 == pytest.approx(simulate(RC).meas["vb1"]) and len(pids) == 1
    deadline = time.monotonic() + 10  # the daemon was terminated: no atexit, the worker
    while not exited(pids[0]) and time.monotonic() < deadline:  # notices its parent is gone
        time.sleep(0.1)
    assert exited(pids[0])


def test_options_and_pool_arguments_are_checked():
    with pytest.raises(SpecError, match="backend"):
        SimOptions(backend="ngspice")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="timeout"):
        SimOptions(timeout=0)
    with pytest.raises(SpecError, match="max_runs"):
        WorkerPool(max_runs=0)
    with pytest.raises(SpecError, match="workers"):
        WorkerPool(workers=0)


@pytest.mark.spice
def test_deck_with_control_block_is_refused_by_the_shared_backend():
    with pytest.raises(NetlistError, match=".control"):
        simulate(RC.replace(".end\n", ".control\nrun\n.endc\n.end\n"))


def batch_endless(deck: str) -> object:
    return simulate(deck, SimOptions(backend="batch", timeout=300.0))


def _ngspice_children_of_init() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if "circuitsim-run-" in line and "ngspice" in line and line.split()[1] == "1"]


@pytest.mark.spice
def test_killed_worker_takes_its_batch_ngspice_along_and_names_the_run_dir():
    before = set(_ngspice_children_of_init())
    with WorkerPool(workers=1, timeout=2.0) as workers:
        (_, err), = list(workers.imap_unordered(batch_endless, [ENDLESS]))
    assert isinstance(err, SimError) and "timeout" in str(err)
    assert err.run_dir is not None and (err.run_dir / "deck.cir").exists()
    time.sleep(0.5)
    assert set(_ngspice_children_of_init()) <= before, "ngspice -b outlived its worker"


@pytest.mark.spice
def test_keep_dir_results_name_their_run_dir():
    for backend in ("shared", "batch"):
        res = simulate(RC, SimOptions(backend=backend, keep_dir=True))
        assert res.run_dir is not None and (res.run_dir / "deck.cir").exists()
        assert simulate(RC, SimOptions(backend=backend)).run_dir is None


def test_a_missing_libngspice_is_a_setup_error_every_time(tmp_path):
    """PySpice cannot retry a failed load (it would declare its C types twice): the second
    attempt in the same process repeats the first SetupError."""
    import subprocess
    import sys

    code = ("from circuitsim.spice import shared_backend as sb\n"
            "for _ in range(2):\n"
            "    try:\n        sb.engine()\n"
            "    except Exception as exc:\n        print(type(exc).__name__)\n")
    env = {**os.environ, "NGSPICE_LIBRARY_PATH": str(tmp_path / "libngspice.so")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120).stdout.split()
    assert out == ["SetupError", "SetupError"]
