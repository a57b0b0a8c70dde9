"""Training grids (``circuitsim.reproduce.grid``) and the statistics that decide a
reproduction (``circuitsim.reproduce.stats``).

- Intervals against an independent calculation (numpy and tabulated t quantiles).
- A grid on two worker processes gives bit-identical records to the same runs in this
  process; a run that fails part-way (diverges in its first epoch) fails alone, the others are
  stored, and a rerun trains nothing that is stored.
- The same grid as tasks of a Dask LocalCluster gives the same records.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from circuitsim.cli import main
from circuitsim.errors import SpecError
from circuitsim.reproduce import stats
from circuitsim.reproduce.grid import RunRecord, plan, run_grid, seeds_of, train_run
from circuitsim.spec import build
from circuitsim.train.config import TrainSpec

#: Student t quantiles t(0.975, df) from a printed table (independent of scipy).
T975 = {1: 12.706, 2: 4.303, 4: 2.776, 9: 2.262}


@pytest.mark.parametrize("values", [[1.0, 2.0], [0.5, 0.7, 0.2], [3, 1, 4, 1, 5],
                                    list(np.linspace(-1, 2, 10))])
def test_t_interval_matches_the_table(values):
    iv = stats.t_interval(values)
    n = len(values)
    half = T975[n - 1] * np.std(values, ddof=1) / math.sqrt(n)
    assert iv.n == n and iv.mean == pytest.approx(np.mean(values), abs=1e-12)
    assert iv.hi - iv.mean == pytest.approx(half, rel=2e-4)
    assert iv.mean - iv.lo == pytest.approx(half, rel=2e-4)


def test_paired_interval_removes_the_shared_spread_and_rules_decide():
    a = [0.90, 0.80, 0.95, 0.70, 0.85]  # seeds differ a lot ...
    b = [x - 0.01 for x in a]            # ... by the same 1 pt each
    d = stats.paired(a, b).scaled(100)
    assert d.mean == pytest.approx(1.0) and d.hi - d.lo < 1e-9
    assert stats.t_interval(a).hi - stats.t_interval(a).lo > 0.1  # unpaired: wide
    one = stats.t_interval([0.5])
    assert math.isinf(one.lo) and math.isinf(one.hi)
    mk = lambda lo, hi: stats.Interval((lo + hi) / 2, lo, hi, 5)  # noqa: E731
    assert stats.equivalence(mk(-0.5, 0.9), 1.0) == "equivalent"
    assert stats.equivalence(mk(-3.0, -1.2), 1.0) == "different"
    assert stats.equivalence(mk(-1.5, 0.5), 1.0) == "undecided"
    # needs >= k: 5 and 8 reach the margin, 4 lies wholly below it
    diffs = {3: mk(-9, -5), 4: mk(-4, -2), 5: mk(-1.5, 0.5), 8: mk(-0.2, 0.2)}
    assert stats.needed(diffs, 1.0) == 5
    assert stats.needed({3: mk(-9, -5)}, 1.0) is None
    with pytest.raises(SpecError, match="seeds"):
        stats.paired([1.0], [1.0, 2.0])


def _specs(n: int) -> list[TrainSpec]:
    spec = build(TrainSpec, {"dataset": "digits", "rule": "float", "epochs": 2,
                             "max_train": 120})
    return seeds_of(spec, n)


def _same(a: RunRecord, b: RunRecord) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("test_acc", "test_loss", "train_acc", "train_loss"))


@pytest.mark.spice  # grid records are keyed on the ngspice version
def test_pool_equals_serial_a_failed_run_fails_alone_and_a_rerun_resumes(tmp_path):
    good = _specs(3)
    bad = replace(good[0], seed=7, lr=1e300)  # diverges in its first epoch
    serial = [train_run(p) for p in plan(good, "digits")]
    store = tmp_path / "store"
    with pytest.raises(SpecError, match=r"1 of 4 runs failed.*stored.*seed 7.*diverged"):
        run_grid([*good, bad], "digits", workers=2, store=store, progress=False)
    assert len(list(store.glob("*.error.json"))) == 1
    assert len([p for p in store.glob("*.json") if not p.name.endswith(".error.json")]) == 3
    res = run_grid([*good, good[1]], "digits", workers=2, store=store, progress=False)
    assert (res.trained, res.cached) == (0, 3)  # identical specs run once
    assert len(res.records) == 4 and res.records[3] is res.records[1]
    assert all(_same(s, r) for s, r in zip(serial, res.records, strict=False))


@pytest.mark.slow
@pytest.mark.spice  # grid records are keyed on the ngspice version
def test_dask_local_cluster_gives_the_serial_records(tmp_path):
    distributed = pytest.importorskip("distributed")
    specs = _specs(2)
    serial = [train_run(p) for p in plan(specs, "digits")]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0", scheduler_port=0) as cluster:
        res = run_grid(specs, "digits", scheduler=cluster.scheduler_address,
                       store=tmp_path / "s", progress=False)
    assert res.trained == 2 and all(_same(s, r) for s, r in zip(serial, res.records,
                                                               strict=True))


@pytest.mark.spice  # grid records are keyed on the ngspice version
def test_train_seeds_reports_an_interval_and_resumes(tmp_path, capsys):
    out, store = tmp_path / "run", tmp_path / "store"
    argv = ["train", "--rule", "float", "--epochs", "1", "--set", "max_train=80", "--seed",
            "3", "--seeds", "3", "--workers", "1", "--store", str(store), "--no-progress",
            "--out", str(out)]
    assert main(argv) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["seeds"] == [3, 4, 5] and res["test_acc_pct"]["n"] == 3
    accs = [100 * r["test_acc"][-1] for r in res["runs"]]
    iv = stats.t_interval(accs)
    assert res["test_acc_pct"]["lo"] == pytest.approx(iv.lo)
    assert res["test_acc_pct"]["lo"] <= np.mean(accs) <= res["test_acc_pct"]["hi"]
    assert (out / "curves.png").stat().st_size > 5000
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 trained now" in capsys.readouterr().out
    assert main([*argv[:-2], "--seeds", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--seeds=0" in err and len(err.splitlines()) == 1 and not (tmp_path / "x").exists()
