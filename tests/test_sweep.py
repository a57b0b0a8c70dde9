"""Sweeps: local pool and Dask cluster, the content-addressed store, resume, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from circuitsim.errors import CacheError, SimError, SpecError
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.phases import MacPoint, UpdatePoint, mac_point, run_update, update_point
from circuitsim.store import ResultStore, point_key
from circuitsim.sweep import _local, sweep

pytestmark = pytest.mark.spice

POINTS = [UpdatePoint(pulses="UD" * k, t_hold=1e-6) for k in (1, 2, 3)]


def _same(a, b):
    for key, value in a.to_arrays().items():
        np.testing.assert_array_equal(value, b.to_arrays()[key], err_msg=key)


def test_local_sweep_matches_direct_calls_and_resumes_from_the_store(tmp_path):
    first = sweep(update_point, POINTS, store=tmp_path, workers=2, progress=False)
    assert first.summary() == "3 points: 3 simulated, 0 from the store, 0 failed"
    direct = run_update(POINTS[1].cell, POINTS[1].pulses, t_hold=1e-6)
    _same(first.results[1], direct)
    assert len(list(tmp_path.glob("*.npz"))) == 3
    again = sweep(update_point, POINTS, store=tmp_path, workers=1, progress=False)
    assert again.n_cached == 3
    for a, b in zip(first.results, again.results, strict=True):
        _same(a, b)


def test_keys_follow_the_deck_and_the_ngspice_version():
    k = point_key(update_point, POINTS[0], "46")
    assert k == point_key(update_point, UpdatePoint(pulses="UD", t_hold=1e-6), "46")
    assert k != point_key(update_point, POINTS[0], "45")
    assert k != point_key(update_point, POINTS[1], "46")


def test_corrupt_or_foreign_records_are_recomputed_not_used(tmp_path, capsys):
    sweep(update_point, POINTS[:2], store=tmp_path, workers=1, progress=False)
    store = ResultStore(tmp_path)
    keys = store.keys()
    npz = tmp_path / f"{keys[0]}.npz"
    npz.write_bytes(npz.read_bytes()[:100])  # truncated
    meta_path = tmp_path / f"{keys[1]}.json"
    meta = json.loads(meta_path.read_text())
    meta["result_type"] = "os.system"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CacheError, match=rf"record {keys[0][:12]}: \S+ does not match its"):
        store.load(keys[0])
    with pytest.raises(CacheError, match="outside circuitsim"):
        store.load(keys[1])
    again = sweep(update_point, POINTS[:2], store=tmp_path, workers=1, progress=False)
    assert again.n_cached == 0 and not again.failed
    assert capsys.readouterr().err.count("recomputing") == 2
    assert ResultStore(tmp_path).load(keys[0]) is not None


@pytest.mark.parametrize("via_env", [False, True])
def test_a_failing_point_is_recorded_and_the_sweep_carries_on(tmp_path, monkeypatch, via_env):
    big = MacPoint(crossbar=CrossbarSpec(rows=128, cols=128, r_row=2.5, r_col=2.5))
    small = MacPoint(crossbar=CrossbarSpec(rows=4, cols=4))
    if via_env:  # the limit a user raises for large decks on a loaded machine
        monkeypatch.setenv("CIRCUITSIM_TASK_TIMEOUT", "2")
    out = sweep(mac_point, [small, big, small], store=tmp_path, workers=1, progress=False,
                **({} if via_env else {"timeout": 2.0}))
    assert [o.error is None for o in out.outcomes] == [True, False, True]
    assert isinstance(out.outcomes[1].error, SimError)
    assert "2 s timeout (CIRCUITSIM_TASK_TIMEOUT sets it)" in str(out.outcomes[1].error)
    errors = list(tmp_path.glob("*.error.json"))
    assert len(errors) == 1 and "timeout" in json.loads(errors[0].read_text())["error"]


@pytest.mark.parametrize("raw", ["0", "-5", "soon", "inf"])
def test_bad_task_timeout_env_is_refused_before_any_run(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("CIRCUITSIM_TASK_TIMEOUT", raw)
    with pytest.raises(SpecError, match=f"CIRCUITSIM_TASK_TIMEOUT={raw!r}: must be a positive"):
        sweep(mac_point, [MacPoint()], store=tmp_path, workers=1, progress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_results(tmp_path):
    import dask
    import distributed

    # the workers' scratch space under tmp_path, not in the system temp dir
    with dask.config.set({"temporary-directory": str(tmp_path / "dask")}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster:
        out = sweep(update_point, POINTS, scheduler=cluster.scheduler_address,
                    store=tmp_path / "store", progress=False)
    assert not out.failed
    local = sweep(update_point, POINTS, workers=1, progress=False)
    for a, b in zip(out.results, local.results, strict=True):
        _same(a, b)


def test_ctrl_c_keeps_finished_points_and_a_rerun_resumes(tmp_path):
    store = tmp_path / "store"
    argv = [sys.executable, "-m", "circuitsim.cli", "sweep", "update", "--workers", "1",
            "--set", "t_hold=1e-6", "--vary",
            'pulses=["UD","UU","DD","UDU","DUD","UUD","DDU","UDUD","DUDU","UUDD","DDUU",'
            '"UDDU","DUUD","UUUD","DDDU","UUUU"]', "--store", str(store)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(store.glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    kept = len([p for p in store.glob("*.json") if not p.name.endswith(".error.json")])
    assert 2 <= kept < 16
    assert not list(store.glob(".*"))  # no half-written temporary files
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{kept} from the store" in done.stdout


def test_no_worker_processes_left_behind():
    sweep(update_point, POINTS[:1], workers=2, progress=False)
    time.sleep(0.5)
    live = [p for p in subprocess.run(["ps", "-o", "pid=,stat=", "--ppid", str(os.getpid())],
                                      capture_output=True, text=True).stdout.splitlines()
            if "Z" in p.split()[-1]]
    assert not live, f"zombie workers: {live}"


def pid_of_worker(_: int) -> int:
    return os.getpid()


def test_sweeps_reuse_idle_workers_unless_the_environment_changed(monkeypatch):
    """A sweep keeps its workers for the next one with the same settings (a worker start
    costs its imports); a changed environment or an interrupted sweep starts fresh ones."""
    first = set(sweep(pid_of_worker, range(6), workers=2, progress=False).results)
    second = set(sweep(pid_of_worker, range(6), workers=2, progress=False).results)
    # the same two workers (one may have run no task of the first sweep: it started late)
    assert second & first and len(first | second) <= 2 and os.getpid() not in first
    monkeypatch.setenv("CIRCUITSIM_TEST_MARKER", "changed")  # workers inherit the environment
    third = set(sweep(pid_of_worker, range(6), workers=2, progress=False).results)
    assert not third & first
    stream = _local([(pid_of_worker, 0), (pid_of_worker, 1)], 2, 600.0, 200)  # sweep's keys
    next(stream)
    stream.close()  # abandoned mid-way: its workers are killed, not kept
    fourth = set(sweep(pid_of_worker, range(6), workers=2, progress=False).results)
    assert not fourth & third


def test_a_kept_pool_is_stopped_and_reaped_when_no_sweep_comes(monkeypatch):
    from circuitsim.spice import pool

    monkeypatch.setattr(pool, "KEEP_IDLE", 0.2)
    monkeypatch.setenv("CIRCUITSIM_TEST_MARKER", "expiry")  # a pool of this test's own
    pids = set(sweep(pid_of_worker, range(4), workers=2, progress=False).results)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(os.getpid())],
                                  capture_output=True, text=True).stdout.split()
        if not pids & {int(p) for p in children}:
            break  # stopped and reaped: neither running nor a zombie
        time.sleep(0.1)
    else:
        raise AssertionError(f"kept workers {pids} still children of the test process")


def test_a_borrowed_pool_preloads_the_borrowing_sweeps_modules(monkeypatch):
    """New workers of a kept pool load the modules of the sweep that borrowed it, not of the
    sweep that created it (their import stays outside the task's timeout)."""
    from circuitsim.spice import pool

    monkeypatch.setenv("CIRCUITSIM_TEST_MARKER", "preload")  # a pool of this test's own
    first = pool.borrow_pool(1, 200, 600.0, ["circuitsim.sweep", "tests.a"])
    pool.return_pool(first)
    second = pool.borrow_pool(1, 200, 600.0, ["circuitsim.sweep", "tests.b"])
    try:
        assert second is first and second.preload == ["circuitsim.sweep", "tests.b"]
    finally:
        second.close()
