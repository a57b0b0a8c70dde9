"""Building a network for a :class:`~circuitsim.train.config.TrainSpec`: surrogates, initial
weights, one *Weights* object per matrix (the rule's realisation), the MLP.

The engine's layers, one way (each imports only from those above it in this list):
device physics (:mod:`~circuitsim.train.pcm`, the 3T1C update surrogate,
:mod:`~circuitsim.train.rpu`) <- arrays (:mod:`~circuitsim.train.weights`: conductance
matrices and their MAC read) <- rules
(:mod:`~circuitsim.train.ambrogio`, :mod:`~circuitsim.train.pulsed`) <- this module <- models
(:mod:`~circuitsim.train.mlp`, :mod:`~circuitsim.train.lstm`) <- :mod:`~circuitsim.train.loop`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from circuitsim.characterize.technology_presets import adc_preset, technology_preset
from circuitsim.spec import to_mapping
from circuitsim.surrogate import service
from circuitsim.train import data as datasets
from circuitsim.train.acts import Act
from circuitsim.train.ambrogio import AmbrogioWeights, PcmOnlyWeights
from circuitsim.train.config import TrainSpec
from circuitsim.train.mlp import MLP
from circuitsim.train.periphery import Periphery
from circuitsim.train.pulsed import RpuWeights
from circuitsim.train.weights import FloatWeights


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


def adc_spec(quick: bool, bits: int, comparator: str = "continuous",
             technology: str = "ptm45", corner: str = "tt") -> Any:
    """The ADC characterization of ``bits`` alone with the ``comparator`` kind in
    ``technology`` at ``corner`` (the QUICK preset at that width, whatever ``quick``): one
    cache entry per width, comparator and technology, so a run never simulates ramps it does
    not use."""
    tech = {"name": technology} | ({"corner": corner} if technology == "sky130" else {})
    return service.make_spec("adc", {"bits": [bits], **adc_preset(comparator, tech)},
                             quick=True)


def update_spec(spec: TrainSpec) -> Any:
    """The 3T1C characterization of ``spec``'s cell: its technology's preset
    (:func:`~circuitsim.characterize.technology_presets.technology_preset`, trimmed per corner
    with ``ambrogio.trim_gates``) with the storage capacitor ``ambrogio.cell_c`` (smaller
    steps need more staircase rounds)."""
    a = spec.ambrogio
    rounds = max(10, math.ceil(40 * a.cell_c / 400e-15))
    tech = {"name": a.technology} | ({"corner": a.corner} if a.technology == "sky130" else {})
    mapping = technology_preset(tech, {"c": a.cell_c}, trim=a.trim_gates)
    return service.make_spec("update", {**mapping, "max_rounds": rounds}, quick=spec.quick)


def load_surrogates(spec: TrainSpec, runner: service.Runner | None = None) -> Surrogates:
    """The surrogates ``spec`` needs (characterized and fitted on a cache miss)."""
    sur = Surrogates()
    if not spec.analog:
        return sur
    need = {"mac": service.make_spec("mac", quick=spec.quick,
                                     read_mode=spec.periphery.read_mode)}
    if spec.rule == "ambrogio":
        need["update"] = update_spec(spec)
    if spec.act_bits and spec.rule != "sbp":
        need["adc"] = adc_spec(spec.quick, spec.act_bits, spec.comparator,
                               spec.comparator_technology, spec.comparator_corner)
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
    compiled = spec.engine == "numba"
    fwd = Periphery(replace(per, out_bits=0) if hidden_adc else per, fwd_rng, compiled)
    bwd = Periphery(per, bwd_rng, compiled)
    args = dict(fwd=fwd, bwd=bwd, rng=rng, exact_read=spec.exact_read, engine=spec.engine)
    amb = spec.ambrogio_spec
    if last:  # the output layer's digital gain: a smaller weight unit
        amb = replace(amb, w_scale=amb.w_scale / amb.out_gain)
    if spec.rule == "ambrogio":
        w = AmbrogioWeights(w0, sur.mac, sur.update, amb, **args)
    elif spec.rule == "pcm":
        w = PcmOnlyWeights(w0, sur.mac, amb, **args)
    else:
        rpu = replace(spec.rpu, dw_min=spec.sbp.step) if spec.rule == "sbp" else spec.rpu
        w = RpuWeights(w0, sur.mac, rpu, rule=spec.rule, **args)
    w.tally.enabled = spec.ledger.enabled
    if hidden_adc:  # the ledger counts the ramp conversions of the next layer's input
        w.tally.fwd_out = "ramp"
    return w


def activation(spec: TrainSpec, sur: Surrogates) -> Act:
    if sur.adc is None:
        return Act(spec.activation)
    return Act(spec.activation, sur.adc.table(spec.activation, spec.act_bits),
               compiled=spec.engine == "numba")


def build_mlp(spec: TrainSpec, ds: datasets.Dataset, sur: Surrogates,
              seeds: list[np.random.SeedSequence]) -> MLP:
    sizes = [ds.x_train.shape[1], *spec.widths, ds.n_classes]
    init = np.random.default_rng(seeds[0])
    w0s = [init_weights(a + 1, b, init) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    layers = [make_weights(spec, sur, w0, np.random.default_rng(seeds[2 + k]),
                           k == len(w0s) - 1) for k, w0 in enumerate(w0s)]
    return MLP(layers, activation(spec, sur), spec.sbp if spec.rule == "sbp" else None)
