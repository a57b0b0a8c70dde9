"""Run many :class:`~circuitsim.train.config.TrainSpec` points of one data set (the LSTM
reproductions): identical specs run once, results are summaries (JSON-able), optionally on
worker processes.

Every run uses ONE BLAS thread (``threadpoolctl``): the LSTM's per-time-step matrix products
are tiny, and a multi-threaded OpenBLAS on a busy machine spends milliseconds per call waiting
for its threads (measured: 11 s -> 0.6 s for one float text epoch on 2 shared cores); it
also keeps the float summation order, so a point's numbers do not depend on the worker count.
Parallelism comes from ``workers`` processes instead (:class:`circuitsim.spice.pool.WorkerPool`:
fresh interpreters, one point at a time each); the
data set and the surrogates are loaded once per process (surrogates from the cache: the caller
loads them first, so a characterization never runs inside a worker).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from typing import Any

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from circuitsim.errors import CircuitsimError
from circuitsim.reproduce.common import mean_std
from circuitsim.spec import to_mapping
from circuitsim.spice.pool import WorkerPool
from circuitsim.train import data as datasets
from circuitsim.train import loop
from circuitsim.train.config import TrainSpec

_DS: dict[str, datasets.Dataset] = {}
_SUR: dict[str, loop.Surrogates] = {}


def _key(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def dataset(name: str, **kwargs: Any) -> datasets.Dataset:
    """``data.load(name, **kwargs)``, once per process."""
    k = _key([name, kwargs])
    if k not in _DS:
        _DS[k] = datasets.load(name, **kwargs)
    return _DS[k]


def surrogates(spec: TrainSpec) -> loop.Surrogates:
    """``loop.load_surrogates(spec)``, once per (rule, act_bits, quick) and process."""
    k = _key([spec.analog and spec.rule, spec.act_bits, spec.quick])
    if k not in _SUR:
        _SUR[k] = loop.load_surrogates(spec)
    return _SUR[k]


def summary(res: loop.TrainResult) -> dict[str, Any]:
    """The numbers a report needs from one run."""
    last = res.history[-1]
    return {"test_loss": last["test_loss"], "test_acc": last["test_acc"],
            "train_loss": last["train_loss"], "seconds": round(res.seconds, 2),
            "history": res.history, "surrogates": res.surrogates}


def train_point(spec: TrainSpec, ds_name: str, ds_kwargs: dict[str, Any]) -> dict[str, Any]:
    """One run (single BLAS thread); its summary."""
    with threadpool_limits(limits=1, user_api="blas"):
        ds = dataset(ds_name, **ds_kwargs)
        return summary(loop.run(spec, ds=ds, sur=surrogates(spec), progress=False))


def _train_item(item: tuple[TrainSpec, str, dict[str, Any]]) -> dict[str, Any]:
    return train_point(*item)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_specs(specs: list[TrainSpec], ds_name: str, ds_kwargs: dict[str, Any], *,
              workers: int = 1, progress: bool = True, desc: str = "runs") -> list[dict]:
    """Summaries of ``specs`` (in order; identical specs are trained once)."""
    keys = [_key(to_mapping(s)) for s in specs]
    unique = list(dict.fromkeys(keys))
    first = {k: specs[keys.index(k)] for k in unique}
    for s in first.values():  # characterize/load in this process, workers hit the cache
        surrogates(s)
    bar = tqdm(total=len(unique), disable=not progress, desc=desc, unit="run", leave=False)
    done: dict[str, dict] = {}
    if workers <= 1 or len(unique) == 1:
        for k in unique:
            done[k] = train_point(first[k], ds_name, ds_kwargs)
            bar.update()
    else:
        items = [(first[k], ds_name, ds_kwargs) for k in unique]
        with WorkerPool(workers=workers, timeout=None) as pool:
            for i, value in pool.imap_unordered(_train_item, items):
                if isinstance(value, CircuitsimError):
                    raise value
                done[unique[i]] = value
                bar.update()
    bar.close()
    return [done[k] for k in keys]



def run_with_noise(specs: list[TrainSpec], baseline: TrainSpec, seeds: int, noise_seeds: int,
                   ds_name: str, ds_kwargs: dict[str, Any], *, fast: bool, progress: bool,
                   desc: str) -> tuple[list[list[dict]], list[dict]]:
    """Every spec of ``specs`` for seeds ``0..seeds-1`` plus the ``baseline`` for
    ``max(noise_seeds, seeds)`` seeds (the run-to-run noise): per-spec lists of summaries and
    the baseline's summaries."""
    runs = [replace(spec, seed=s) for spec in specs for s in range(seeds)]
    runs += [replace(baseline, seed=s) for s in range(max(noise_seeds, seeds))]
    flat = run_specs(runs, ds_name, ds_kwargs, progress=progress, desc=desc,
                     workers=1 if fast else default_workers())
    n = len(specs) * seeds
    return [flat[k * seeds:(k + 1) * seeds] for k in range(len(specs))], flat[n:]


def tolerance(noise: list[float], seeds: int, floor: float) -> tuple[float, float]:
    """Run-to-run std of ``noise`` and the difference that counts between two points of
    ``seeds`` seeds each: ``max(floor, 2 std / sqrt(seeds))``."""
    std = mean_std(noise)[1]
    return std, max(floor, 2 * std / math.sqrt(seeds))
