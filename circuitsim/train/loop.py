"""Build a network for a :class:`~circuitsim.train.config.TrainSpec` and train it.

Surrogates come from the cache (characterized and fitted on first use): the MAC surrogate for
every analog rule, the 3T1C update surrogate for ``ambrogio``, the ramp-ADC activation
surrogate when ``act_bits > 0``. Random streams are split from ``seed`` (initial weights,
sample order, each layer's devices/cells, periphery noise), so a run is reproducible bit for
bit. The float baseline is the same network (same initial weights, order, lr, batch) with
float32 weights, float activations and no periphery.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from tqdm import tqdm

from circuitsim.errors import SpecError
from circuitsim.spec import to_mapping
from circuitsim.surrogate import service
from circuitsim.train import data as datasets
from circuitsim.train.acts import Act
from circuitsim.train.ambrogio import AmbrogioWeights, PcmOnlyWeights
from circuitsim.train.config import TrainSpec
from circuitsim.train.mlp import MLP
from circuitsim.train.periphery import Periphery
from circuitsim.train.probe import SpiceProbe
from circuitsim.train.pulsed import RpuWeights
from circuitsim.train.weights import FloatWeights

#: ADC characterization used when the activation needs 5 or 8 bits (QUICK has 3 and 4).
ADC_TRAIN = {"bits": [3, 4, 5, 8]}
EVAL_BATCH = 256


@dataclass(slots=True)
class Surrogates:
    """The surrogates one run uses, with their characterization specs and cache keys."""

    mac: Any = None
    update: Any = None
    adc: Any = None
    specs: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        return {k: {"cache_key": self.keys[k], "spec": to_mapping(s)}
                for k, s in self.specs.items()}


def adc_spec(quick: bool, bits: int) -> Any:
    return service.make_spec("adc", None if quick and bits <= 4 else ADC_TRAIN, quick=True)


def update_spec(spec: TrainSpec) -> Any:
    """The 3T1C characterization of ``spec``'s cell: the preset with the storage capacitor
    ``ambrogio.cell_c`` (smaller steps need more staircase rounds)."""
    rounds = max(10, math.ceil(40 * spec.ambrogio.cell_c / 400e-15))
    return service.make_spec("update", {"cell": {"c": spec.ambrogio.cell_c},
                                        "max_rounds": rounds}, quick=spec.quick)


def load_surrogates(spec: TrainSpec, runner: service.Runner | None = None) -> Surrogates:
    """The surrogates ``spec`` needs (characterized and fitted on a cache miss)."""
    sur = Surrogates()
    if not spec.analog:
        return sur
    need = {"mac": service.make_spec("mac", quick=spec.quick)}
    if spec.rule == "ambrogio":
        need["update"] = update_spec(spec)
    if spec.act_bits and spec.rule != "sbp":
        need["adc"] = adc_spec(spec.quick, spec.act_bits)
    for kind, s in need.items():
        obj, entry, _ = service.get_surrogate(kind, s, runner=runner)
        setattr(sur, kind, obj)
        sur.specs[kind], sur.keys[kind] = s, entry.key
    return sur


def init_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot-uniform weights, bias row (the last) zero."""
    a = np.sqrt(6.0 / (n_in - 1 + n_out))
    w = rng.uniform(-a, a, (n_in, n_out)).astype(np.float32)
    w[-1] = 0.0
    return w


def make_weights(spec: TrainSpec, sur: Surrogates, w0: np.ndarray, rng: np.random.Generator,
                 last: bool) -> Any:
    """One weight matrix realised by ``spec.rule``."""
    if not spec.analog:
        return FloatWeights(w0)
    per = spec.periphery
    # a hidden layer followed by a ramp-ADC activation: that ADC is the layer's output ADC
    hidden_adc = spec.act_bits and not last and spec.rule != "sbp"
    # the converters' noise and rounding draw from their own streams, so switching them on
    # leaves the devices' draws unchanged (paired comparisons)
    fwd_rng, bwd_rng = rng.spawn(2)
    fwd = Periphery(replace(per, out_bits=0) if hidden_adc else per, fwd_rng)
    bwd = Periphery(per, bwd_rng)
    args = dict(fwd=fwd, bwd=bwd, rng=rng, exact_read=spec.exact_read)
    if spec.rule == "ambrogio":
        return AmbrogioWeights(w0, sur.mac, sur.update, spec.ambrogio_spec, **args)
    if spec.rule == "pcm":
        return PcmOnlyWeights(w0, sur.mac, spec.ambrogio_spec, **args)
    rpu = replace(spec.rpu, dw_min=spec.sbp.step) if spec.rule == "sbp" else spec.rpu
    return RpuWeights(w0, sur.mac, rpu, rule=spec.rule, **args)


def activation(spec: TrainSpec, sur: Surrogates) -> Act:
    if sur.adc is None:
        return Act(spec.activation)
    return Act(spec.activation, sur.adc.table(spec.activation, spec.act_bits))


def build_mlp(spec: TrainSpec, ds: datasets.Dataset, sur: Surrogates,
              seeds: list[np.random.SeedSequence]) -> MLP:
    sizes = [ds.x_train.shape[1], spec.width, ds.n_classes]
    init = np.random.default_rng(seeds[0])
    w0s = [init_weights(a + 1, b, init) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    layers = [make_weights(spec, sur, w0, np.random.default_rng(seeds[2 + k]),
                           k == len(w0s) - 1) for k, w0 in enumerate(w0s)]
    return MLP(layers, activation(spec, sur), spec.sbp if spec.rule == "sbp" else None)


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

    @property
    def test_acc(self) -> float:
        return self.history[-1]["test_acc"]

    def to_json(self) -> dict[str, Any]:
        return {"spec": to_mapping(self.spec), "dataset": self.dataset,
                "surrogates": self.surrogates, "history": self.history,
                "final": self.history[-1], "events": self.events,
                "spot_checks": self.spot_checks, "seconds": round(self.seconds, 2)}


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
        from circuitsim.train.lstm import build_lstm
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
    bar = tqdm(total=spec.epochs * len(x), disable=not progress, unit="img",
               desc=f"train {spec.dataset} {spec.rule}", leave=False)
    for epoch in range(1, spec.epochs + 1):
        lr = spec.lr * spec.lr_decay ** (epoch - 1)
        te = time.perf_counter()
        loss = correct = count = 0
        for idx in datasets.batches(len(x), spec.batch, order):
            lo, co, n = model.step(x[idx], y[idx], lr)
            loss, correct, count = loss + lo, correct + co, count + n
            step += 1
            bar.update(len(idx))
            if spot is not None and spec.spot_every and step % spec.spot_every == 0:
                checks.extend(spot(model, step))
        train_seconds = time.perf_counter() - te
        if not np.isfinite(loss):
            raise SpecError(f"lr={spec.lr!r}: training diverged (loss not finite in epoch "
                            f"{epoch}); lower the learning rate")
        test_loss, test_acc = evaluate(model, ds.x_test, ds.y_test)
        history.append({"epoch": epoch, "train_loss": loss / count, "train_acc": correct / count,
                        "test_loss": test_loss, "test_acc": test_acc,
                        "train_seconds": round(train_seconds, 3)})
        bar.set_postfix(test_acc=f"{test_acc:.3f}")
    bar.close()
    events = [dict(e, layer=k) for k, layer in enumerate(model.layers) for e in layer.events]
    return TrainResult(spec, ds.info(), sur.provenance(), history, events, checks,
                       time.perf_counter() - t0, model)
