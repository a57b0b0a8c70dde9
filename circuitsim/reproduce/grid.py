"""Training runs as a grid of independent tasks: configurations x seeds on a local process pool
or a Dask cluster, each finished run stored by content hash so a rerun resumes.

A task is one :class:`RunPoint` (a frozen :class:`~circuitsim.train.config.TrainSpec`, the
data set's name, load arguments and array hash, the cache keys of the surrogates it reads and
a fingerprint of the training code) and its result one :class:`RunRecord` (per-epoch curves
as named arrays). The grid is a :func:`circuitsim.sweep.sweep` of :func:`train_run` over the
points: the same worker pool (fresh processes, none shared between threads), the same Dask
path (``--scheduler`` / ``CIRCUITSIM_SCHEDULER``), the same JSON + npz result store (atomic
writes, no pickle, a record exists once its JSON does), the same tqdm bar. The store's key
hashes the point, so a changed spec, data set, surrogate or training code is a new run and an
unchanged one is read back: rerunning after Ctrl-C, a crash or a failed run trains only what
is missing.

The parent loads the data set and every surrogate first (characterizing on a cold cache), so
workers only read caches; each run uses one BLAS thread (the per-step products are small, and
a multi-threaded BLAS on a busy machine waits for its threads; one thread also fixes the
summation order, so a run's numbers do not depend on where it ran).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from circuitsim.errors import SpecError
from circuitsim.fingerprint import fingerprint
from circuitsim.spec import require
from circuitsim.store import canonical
from circuitsim.surrogate.cache import default_dir
from circuitsim.surrogate.service import Runner
from circuitsim.sweep import sweep
from circuitsim.train import data as datasets
from circuitsim.train import ledger, loop
from circuitsim.train.config import TrainSpec

#: Code a run's numbers depend on above the SPICE record step (hashed into every point).
TRAIN_CODE = ("train/*.py", "surrogate/*.py", "activations.py", "reproduce/grid.py")


def store_dir() -> Path:
    """Default store of finished runs: ``<surrogate cache>/train-runs``."""
    return default_dir() / "train-runs"


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One training run of a grid (what its record's key hashes)."""

    spec: TrainSpec  #: the run
    dataset: str  #: data set name (``data.load``)
    data_args: tuple[tuple[str, Any], ...] = ()  #: keyword arguments of ``data.load``
    data_hash: str = ""  #: sha256 of the data set's arrays (``Dataset.info()["sha256"]``)
    surrogates: tuple[tuple[str, str], ...] = ()  #: (kind, cache key) of every surrogate read
    code: str = ""  #: fingerprint of the training code (:data:`TRAIN_CODE`)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A finished run: per-epoch curves (fractions, nats), its wall time and its energy
    ledger's headline figures (NaN: no ledger, e.g. the float rule)."""

    test_acc: np.ndarray  #: (epochs,) test accuracy after each epoch
    test_loss: np.ndarray  #: (epochs,) mean test loss per prediction
    train_acc: np.ndarray  #: (epochs,)
    train_loss: np.ndarray  #: (epochs,)
    seconds: float  #: wall time of the run (s)
    energy_per_image: float = float("nan")  #: J per training image
    energy_per_test_image: float = float("nan")  #: J per test image (inference)
    latency_per_image: float = float("nan")  #: s per training image
    tops_per_watt: float = float("nan")  #: training operations per joule / 1e12
    #: (5,) J per training image in ledger.TRAINING_PHASES order
    phase_energy: np.ndarray = field(default_factory=lambda: np.full(5, np.nan))

    @property
    def final_acc(self) -> float:
        return float(self.test_acc[-1])

    @property
    def final_loss(self) -> float:
        return float(self.test_loss[-1])

    def last_acc(self, n: int) -> float:
        """Mean test accuracy of the last ``n`` epochs."""
        return float(np.mean(self.test_acc[-n:]))


_DS: dict[str, datasets.Dataset] = {}


def dataset(name: str, args: Sequence[tuple[str, Any]] = ()) -> datasets.Dataset:
    """``data.load(name, **args)``, once per process."""
    key = json.dumps([name, list(args)], default=str)
    if key not in _DS:
        _DS[key] = datasets.load(name, **dict(args))
    return _DS[key]


def train_run(point: RunPoint) -> RunRecord:
    """Train one point (in a worker, a Dask task or in-process): the grid's task function."""
    ds = dataset(point.dataset, point.data_args)
    if ds.info()["sha256"] != point.data_hash:
        raise SpecError(f"dataset={point.dataset!r}: its arrays here differ from the ones the "
                        "grid was planned with (another data file or version on this worker)")
    sur = loop.load_surrogates(point.spec)
    if tuple(sorted(sur.keys.items())) != point.surrogates:
        raise SpecError(f"surrogates: this worker's cache gives {sorted(sur.keys.items())}, the "
                        f"grid was planned with {list(point.surrogates)}")
    with threadpool_limits(limits=1, user_api="blas"):
        res = loop.run(point.spec, ds=ds, sur=sur, progress=False)
    h = res.history
    curves = [np.array([e[k] for e in h], np.float64)
              for k in ("test_acc", "test_loss", "train_acc", "train_loss")]
    if res.ledger is None:
        return RunRecord(*curves, seconds=float(res.seconds))
    per = res.ledger["per_training_image"]
    return RunRecord(*curves, seconds=float(res.seconds), energy_per_image=per["energy_J"],
                     energy_per_test_image=res.ledger["per_test_image"]["energy_J"],
                     latency_per_image=per["latency_s"], tops_per_watt=per["tops_per_watt"],
                     phase_energy=np.array([per["by_phase_J"][p]
                                            for p in ledger.TRAINING_PHASES]))


@dataclass(frozen=True, slots=True)
class GridResult:
    """Records in the order of the specs given, and where they came from."""

    records: list[RunRecord]
    trained: int  #: runs trained now
    cached: int  #: runs read from the store
    seconds: float  #: wall time of the runs trained now, summed

    def summary(self) -> str:
        return (f"{len(self.records)} runs: {self.trained} trained now ({self.seconds:.0f} s "
                f"of run time), {self.cached} from the store")


def plan(specs: Sequence[TrainSpec], ds_name: str,
         data_args: dict[str, Any] | None = None) -> list[RunPoint]:
    """The points of ``specs`` (loads the data set and every surrogate, and simulates the
    ledger's price decks, here, characterizing on a cold cache, so that workers only read)."""
    args = tuple(sorted((data_args or {}).items()))
    digest = dataset(ds_name, args).info()["sha256"]
    code = fingerprint(TRAIN_CODE)
    keys: dict[str, tuple[tuple[str, str], ...]] = {}
    out = []
    for spec in specs:
        if spec.dataset != ds_name:
            raise SpecError(f"dataset={spec.dataset!r}: this grid trains on {ds_name!r}")
        # what load_surrogates and the ledger's prices read: the rule, gate/activation bits
        # and function, presets, comparator, read mode, the 3T1C cell
        need = json.dumps([spec.rule, spec.act_bits, spec.activation, spec.quick,
                           spec.comparator, spec.comparator_technology, spec.comparator_corner,
                           spec.periphery.read_mode, canonical(spec.ambrogio),
                           spec.ledger.enabled])
        if need not in keys:
            sur = loop.load_surrogates(spec)
            keys[need] = tuple(sorted(sur.keys.items()))
            if spec.analog and spec.ledger.enabled:
                ledger.measure_prices(spec, sur, Runner(progress=False))
        out.append(RunPoint(spec, ds_name, args, digest, keys[need], code))
    return out


def run_grid(specs: Sequence[TrainSpec], ds_name: str, data_args: dict[str, Any] | None = None,
             *, workers: int | None = None, scheduler: str | None = None,
             store: Path | str | None = None, progress: bool = True,
             desc: str = "runs") -> GridResult:
    """Train every spec (identical ones once) as independent tasks; see the module docstring.
    ``workers``: local processes (default: one per core); ``scheduler``: a Dask scheduler
    address (default ``$CIRCUITSIM_SCHEDULER``; unset: the local pool). A run that fails
    raises its error once every other run has finished and been stored."""
    points = plan(specs, ds_name, data_args)
    unique = list(dict.fromkeys(points))
    outcome = sweep(train_run, unique, store=store_dir() if store is None else store,
                    workers=workers, scheduler=scheduler, timeout=None, progress=progress,
                    desc=desc)
    if outcome.failed:
        first = outcome.failed[0]
        raise type(first.error)(
            f"{len(outcome.failed)} of {len(unique)} runs failed, the others are stored "
            f"(rerun to retry only those); first: rule {first.point.spec.rule}, seed "
            f"{first.point.spec.seed}: {first.error}") from None
    by = {p: o.result for p, o in zip(unique, outcome.outcomes, strict=True)}
    fresh = [o for o in outcome.outcomes if not o.cached]
    return GridResult([by[p] for p in points], len(fresh), outcome.n_cached,
                      sum(o.seconds for o in fresh))


def seeds_of(spec: TrainSpec, n: int, first: int = 0) -> list[TrainSpec]:
    """``spec`` for seeds ``first .. first + n - 1``."""
    require(n >= 1, "seeds", n, "must be >= 1")
    return [replace(spec, seed=first + s) for s in range(n)]
