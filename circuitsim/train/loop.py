"""Build a network for a :class:`~circuitsim.train.config.TrainSpec` and train it.

Surrogates come from the cache (characterized and fitted on first use): the MAC surrogate for
every analog rule, the 3T1C update surrogate for ``ambrogio``, the ramp-ADC activation
surrogate when ``act_bits > 0``. Random streams are split from ``seed`` (initial weights,
sample order, each layer's devices/cells, periphery noise), so a run is reproducible bit for
bit. The float baseline is the same network (same initial weights, order, lr, batch) with
float32 weights, float activations and no periphery.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from tqdm import tqdm

from circuitsim.errors import SpecError
from circuitsim.spec import to_mapping
from circuitsim.surrogate import service
from circuitsim.train import data as datasets
from circuitsim.train import ledger
from circuitsim.train.build import (  # noqa: F401  (re-exported: the loop's public API)
    Surrogates,
    activation,
    adc_spec,
    build_mlp,
    init_weights,
    load_surrogates,
    make_weights,
    update_spec,
)
from circuitsim.train.config import TrainSpec
from circuitsim.train.lstm import build_lstm
from circuitsim.train.probe import SpiceProbe

EVAL_BATCH = 256
#: History fields that are timings (they differ between otherwise identical runs).
TIMINGS = ("train_seconds", "train_cpu_seconds")


def evaluate(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean loss per prediction and accuracy of ``model`` on ``(x, y)``."""
    loss = correct = count = 0
    for i in range(0, len(x), EVAL_BATCH):
        lo, co, n = model.evaluate(x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH])
        loss, correct, count = loss + lo, correct + co, count + n
    return loss / count, correct / count


@dataclass(slots=True)
class TrainResult:
    """What a run produced (JSON-able except ``model``)."""

    spec: TrainSpec
    dataset: dict[str, Any]
    surrogates: dict[str, Any]
    history: list[dict[str, float]]
    events: list[dict[str, Any]]
    spot_checks: list[dict[str, Any]]
    seconds: float
    model: Any = None
    ledger: dict[str, Any] | None = None  #: energy and latency (None: float rule, or off)

    @property
    def test_acc(self) -> float:
        return self.history[-1]["test_acc"]

    def to_json(self) -> dict[str, Any]:
        return {"spec": to_mapping(self.spec), "dataset": self.dataset,
                "surrogates": self.surrogates, "history": self.history,
                "final": self.history[-1], "events": self.events,
                "spot_checks": self.spot_checks, "seconds": round(self.seconds, 2),
                "ledger": self.ledger}


@np.errstate(over="ignore", invalid="ignore")  # a diverging run is reported as an error below
def run(spec: TrainSpec, *, sur: Surrogates | None = None, ds: datasets.Dataset | None = None,
        progress: bool = True, runner: service.Runner | None = None,
        spot: Callable[[Any, int], list[dict[str, Any]]] | None = None) -> TrainResult:
    """Train ``spec``'s network; every ``spec.spot_every`` steps ``spot(model, step)`` (default:
    :class:`~circuitsim.train.probe.SpiceProbe`, real ngspice runs) logs spot-checks."""
    t0 = time.perf_counter()
    ds = ds or datasets.load(spec.dataset, path=spec.data_path or None)
    if spec.binary_inputs and ds.kind == "vector":
        ds = replace(ds, x_train=(ds.x_train > 0.5).astype(np.float32),
                     x_test=(ds.x_test > 0.5).astype(np.float32))
    sur = sur or load_surrogates(spec, runner)
    seeds = np.random.SeedSequence(spec.seed).spawn(8)
    if spec.model == "lstm":
        model = build_lstm(spec, ds, sur, seeds)
    else:
        model = build_mlp(spec, ds, sur, seeds)
    order = np.random.default_rng(seeds[1])
    x, y = ds.x_train, ds.y_train
    if spec.max_train:
        x, y = x[:spec.max_train], y[:spec.max_train]
    if spot is None and spec.spot_every and spec.analog:
        probe = (x[:8] > 0.5).astype(np.float32) if spec.rule == "sbp" else x[:8]
        spot = SpiceProbe(sur, probe, spec.seed)  # the inputs the arrays really see
    history: list[dict[str, float]] = []
    checks: list[dict[str, Any]] = []
    step = 0
    tallied = [w for w in model.layers if hasattr(w, "tally")] if spec.ledger.enabled else []
    bar = tqdm(total=spec.epochs * len(x), disable=not progress, unit="img",
               desc=f"train {spec.dataset} {spec.rule}", leave=False)
    for epoch in range(1, spec.epochs + 1):
        lr = spec.lr * spec.lr_decay ** (epoch - 1)
        te, ce = time.perf_counter(), time.thread_time()
        loss = correct = count = 0
        for idx in datasets.batches(len(x), spec.batch, order):
            lo, co, n = model.step(x[idx], y[idx], lr)
            loss, correct, count = loss + lo, correct + co, count + n
            step += 1
            bar.update(len(idx))
            if spot is not None and spec.spot_every and step % spec.spot_every == 0:
                checks.extend(spot(model, step))
        if spec.rule == "sbp":
            model.end_epoch()
        train_seconds = time.perf_counter() - te
        train_cpu = time.thread_time() - ce  # this thread's CPU time: the work, not the load
        if not np.isfinite(loss):
            raise SpecError(f"lr={spec.lr!r}: training diverged (loss not finite in epoch "
                            f"{epoch}); lower the learning rate")
        _count_as_training(tallied, False)
        test_loss, test_acc = evaluate(model, ds.x_test, ds.y_test)
        _count_as_training(tallied, True)
        history.append({"epoch": epoch, "train_loss": loss / count, "train_acc": correct / count,
                        "test_loss": test_loss, "test_acc": test_acc,
                        "train_seconds": round(train_seconds, 6),
                        "train_cpu_seconds": round(train_cpu, 6)})
        bar.set_postfix(test_acc=f"{test_acc:.3f}")
    bar.close()
    events = [dict(e, layer=k) for k, layer in enumerate(model.layers) for e in layer.events]
    led = None
    if tallied:
        priced = ledger.measure_prices(spec, sur, runner or service.Runner(progress=progress))
        led = ledger.build(spec, tallied, priced, sur, images=spec.epochs * len(x), steps=step,
                           test_images=spec.epochs * len(ds.x_test))
    return TrainResult(spec, ds.info(), sur.provenance(), history, events, checks,
                       time.perf_counter() - t0, model, led)


def _count_as_training(layers: list[Any], training: bool) -> None:
    """Switch the layers' tallies between training and test-set (inference) reads, each
    flushed at the switch (:mod:`circuitsim.train.tally`)."""
    for w in layers:
        w.flush_tally()
        w.tally.training = training
