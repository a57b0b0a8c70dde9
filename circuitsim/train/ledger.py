"""The energy and latency ledger of a training run: every counted operation, priced.

The layers' :class:`~circuitsim.train.tally.Tally` counts are priced per layer and phase
with :mod:`circuitsim.train.prices` (SPICE) and, for what the decks do not simulate, with the
labelled estimates of :class:`LedgerSpec`. Every line of the ledger says which it is:

- ``simulated``: priced by a SPICE measurement of the run's own circuit (MAC read drivers
  through the MAC surrogate's fitted read energy and the conductances the reads saw; 3T1C
  pulses; ramp-ADC activation conversions);
- ``derived``: arithmetic on simulated prices (an output ADC of other resolution than the
  measured 5-bit reference conversion: ``2^(b - 5)`` times it, the same ramp design
  counting more clock steps; V_C resets at the up pulse's energy per volt; 3T1C holds at
  ``C VDD`` times the SPICE-fitted leak rate);
- ``estimate``: not simulated (op-amps are ideal sources in our decks, PCM and the pulse
  devices are models, DACs are not in the decks), with the assumption stated.

Latency: phases and layers run one after another, a read drives all its lines at once and
its outputs convert in parallel (one conversion time per read), an update pulses every cell
of a layer in parallel (``n_max`` pulse periods for 2PCM+3T1C, one per device pulse slot for
the pulse rules), a transfer programs a layer's PCM row by row. Operations: a read of an
``n_in x n_out`` matrix is ``2 n_in n_out`` (multiply and add per weight), and so is the
update of one image (the rank-one outer product).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from circuitsim.energy import PAPER_CLAIMS, tops_per_watt
from circuitsim.surrogate import service
from circuitsim.surrogate.cache import SurrogateCache
from circuitsim.train import prices as measured
from circuitsim.train.build import adc_spec
from circuitsim.train.ledger_spec import LedgerSpec
from circuitsim.train.tally import Tally

#: Phases priced per training image (``inference`` per test image, ``program`` once).
TRAINING_PHASES = ("forward", "backward", "update", "transfer", "hold")


def measure_prices(spec: Any, sur: Any, runner: service.Runner) -> measured.Prices:
    """The SPICE prices of ``spec``'s run with surrogates ``sur`` (:mod:`circuitsim.train.
    prices`: the run's own ramp-ADC testbench, or the 5-bit one with its comparator where
    it has none); ``runner``: where the decks run and are stored."""
    kw = runner.kwargs(SurrogateCache())
    adc = (sur.specs.get("adc")
           or adc_spec(True, measured.REFERENCE_BITS, spec.comparator,
                    spec.comparator_technology, spec.comparator_corner))
    ref = measured.conversion_prices(adc, "sigmoid", measured.REFERENCE_BITS, kw)
    act = "sigmoid" if spec.model == "lstm" else spec.activation
    conv = (measured.conversion_prices(adc, act, spec.act_bits, kw) if sur.adc is not None
            else ref)
    pulses = (measured.pulse_prices(sur.specs["update"], kw) if sur.update is not None
              else None)
    t_read = sur.mac.t_window or sur.mac.t_read + 2 * sur.mac.t_edge
    return measured.Prices(conv, ref, pulses, float(t_read))


@dataclass(frozen=True, slots=True)
class Item:
    """One priced line: a layer's operation in a phase."""

    layer: int
    phase: str
    item: str
    count: float
    energy: float  #: J over the run
    kind: str  #: simulated, derived or estimate
    assumption: str


class _Pricer:
    """Prices one layer's tally (module docstring)."""

    def __init__(self, spec: Any, prices: measured.Prices, est: LedgerSpec, sur: Any):
        self.spec, self.p, self.est = spec, prices, est
        self.conv, ref = prices.conversion, prices.reference
        per = spec.periphery
        self.out_bits, self.in_bits = per.out_bits, per.in_bits
        self.adc_energy = ref.energy * 2.0 ** (per.out_bits - ref.bits)
        self.adc_latency = ref.latency * 2.0 ** (per.out_bits - ref.bits)
        self.hold_power = self.hold_rate = 0.0
        if sur.update is not None and prices.pulses is not None:
            upd = sur.update
            nom = upd.nominal_cells(1)
            v0 = np.full(1, upd.vc0)
            rate = float((upd.leak(v0, 1e-3, nom)[0] - upd.vc0) / 1e-3)
            self.hold_power = prices.pulses.c * prices.pulses.vdd * max(rate, 0.0)
            self.hold_rate = rate

    def items(self, k: int, t: Tally) -> list[Item]:
        out: list[Item] = []
        p, est, c = self.p, self.est, self.conv
        counts = t.to_json()

        def add(phase: str, item: str, count: float, energy: float, kind: str,
                why: str) -> None:
            out.append(Item(k, phase, item, float(count), float(energy), kind, why))

        for phase in ("forward", "backward", "inference"):
            n = counts.get(phase, {})
            if not n.get("reads"):
                continue
            add(phase, "array read drivers", n["reads"], t.read_energy[phase], "simulated",
                "MAC surrogate's SPICE-fitted driver energy per line (v F(v) x pulse "
                "duration) x the line's conductance over the weight's arrays, per read")
            add(phase, "sense amplifiers", n["sense"], n["sense"] * est.p_opamp * p.t_read,
                "estimate", f"one op-amp per output line, {est.p_opamp:g} W x read window "
                f"{p.t_read:.3g} s")
            if self.in_bits:
                add(phase, f"input DACs ({self.in_bits} bit)", n["dac"],
                    n["dac"] * est.dac_fom * 2.0 ** self.in_bits, "estimate",
                    f"{est.dac_fom:g} J per conversion step x 2^{self.in_bits}")
            if n.get("ramp"):
                add(phase, f"ramp-ADC activations ({c.bits} bit)", n["ramp"],
                    n["ramp"] * c.energy, "simulated",
                    f"{c.bits}-bit {c.activation} ramp conversion, {c.comparator} "
                    f"comparator, {c.inputs} columns sharing the ramp")
            if n.get("adc"):
                r = p.reference
                add(phase, f"output ADCs ({self.out_bits} bit)", n["adc"],
                    n["adc"] * self.adc_energy, "simulated" if self.out_bits == r.bits
                    else "derived", f"the measured {r.bits}-bit ramp conversion x "
                    f"2^({self.out_bits}-{r.bits}) clock steps ({r.comparator} comparator)")
        for phase in ("update", "transfer", "program"):
            n = counts.get(phase, {})
            if p.pulses is not None:
                pp = p.pulses
                for d, fixed, per_volt, lines in (("up", pp.up_fixed, pp.up_per_volt,
                                                   pp.up_lines),
                                                  ("down", pp.down_fixed, pp.down_per_volt,
                                                   pp.down_lines)):
                    cnt = n.get(f"pulses_{d}", 0.0)
                    if cnt:
                        add(phase, f"3T1C {d} pulses", cnt,
                            cnt * fixed + n.get(f"dv_{d}", 0.0) * per_volt, "simulated",
                            f"SPICE fit {fixed:.3g} J + {per_volt:.3g} J/V x |dV_C| per pulse")
                        add(phase, f"3T1C {d} pulse lines", cnt, cnt * lines, "estimate",
                            "pulse-line charge moved x swing (a real driver's C V^2)")
                if n.get("vc_resets"):
                    add(phase, "3T1C V_C resets", n["vc_resets"],
                        n.get("vc_reset_up", 0.0) * pp.up_per_volt, "derived",
                        "charge added to reach V_C0 at the up pulse's energy per volt")
            if n.get("pcm_resets"):
                add(phase, "PCM RESET", n["pcm_resets"], n["pcm_resets"] * est.pcm_reset,
                    "estimate", f"{est.pcm_reset:g} J per RESET (PCM is a model)")
            if n.get("pcm_programmed"):
                pcm = self.spec.ambrogio.pcm
                steps = n["pcm_programmed"] * pcm.verify_iters * pcm.set_steps
                add(phase, "PCM programming", n["pcm_programmed"], steps * est.pcm_set_step,
                    "estimate", f"{pcm.verify_iters} attempts x {pcm.set_steps} SET steps x "
                    f"{est.pcm_set_step:g} J per device")
            if n.get("pcm_set_pulses"):
                add(phase, "PCM partial SET", n["pcm_set_pulses"],
                    n["pcm_set_pulses"] * est.pcm_set_step, "estimate",
                    f"{est.pcm_set_step:g} J per pulse (PCM is a model)")
            if n.get("device_pulses"):
                add(phase, "device pulses", n["device_pulses"],
                    n["device_pulses"] * est.device_pulse, "estimate",
                    f"{est.device_pulse:g} J per SET/RESET (the pulse device is a model)")
        hold = counts.get("hold", {}).get("cell_seconds", 0.0)
        if hold:
            add("hold", "3T1C holds", hold, hold * self.hold_power, "derived",
                f"C VDD x SPICE-fitted leak rate at V_C0 ({self.hold_rate:.3g} V/s) per cell "
                "(the off devices' through-current is not included)")
        return out

    def latency(self, t: Tally, steps: int) -> dict[str, float]:
        """Seconds per phase over the run for one layer (module docstring)."""
        est, p, spec = self.est, self.p, self.spec
        out: dict[str, float] = {}
        counts = t.to_json()
        for phase in ("forward", "backward", "inference"):
            n = counts.get(phase, {})
            conv = (self.conv.latency if n.get("ramp") else self.adc_latency if n.get("adc")
                    else 0.0)
            out[phase] = n.get("reads", 0.0) * (p.t_read + conv)
        if spec.rule == "ambrogio":
            per_step = spec.ambrogio.n_max * p.pulses.t_period
        elif spec.rule == "pcm":
            per_step = spec.ambrogio.n_max * est.t_pcm_step
        else:
            per_step = (spec.rpu.bl if spec.rule == "pulse" else 1) * est.t_device_pulse
        out["update"] = steps * per_step
        pcm = spec.ambrogio.pcm
        out["transfer"] = (counts.get("transfer", {}).get("transfers", 0.0) * t.n_in
                           * pcm.verify_iters * pcm.set_steps * est.t_pcm_step)
        return out


#: How our training TOPS/W differs in what it counts from the papers' figures.
DIFFERENCES = [
    "Ambrogio 2018's 28,065 GOP/s/W is calculated for the forward, backward and update "
    "operations of the 2PCM+3T1C arrays with their own periphery assumptions; ours counts "
    "the same operations (2 per weight per read and per image's update) but prices the "
    "periphery we model: input DACs and sense amplifiers (estimates), ramp conversions "
    "(SPICE), output ADCs (derived from the ramp ADC), PCM transfers (estimates).",
    "Yang 2025's 31-48 TOPS/W is for inference (MAC read + 5-bit ramp conversion), "
    "compare per_test_image; training adds the backward reads, updates and transfers.",
    "Digital work (softmax, error computation, counters, control) is not counted.",
]


def _sum(items: list[Item], **match: Any) -> float:
    return sum(i.energy for i in items if all(getattr(i, k) == v for k, v in match.items()))


def build(spec: Any, layers: list[Any], prices: measured.Prices, sur: Any, *, images: int,
          steps: int, test_images: int) -> dict[str, Any]:
    """The run's ledger as JSON-able data: every priced item, energy per training image by
    phase, layer and kind, latency per image, TOPS/W of training, and the papers' figures."""
    pricer = _Pricer(spec, prices, spec.ledger, sur)
    items: list[Item] = []
    latency = dict.fromkeys((*TRAINING_PHASES, "inference"), 0.0)
    ops = ops_inf = 0.0
    for k, w in enumerate(layers):
        w.flush_tally()
        items += pricer.items(k, w.tally)
        for phase, s in pricer.latency(w.tally, steps).items():
            latency[phase] += s
        per = 2.0 * w.n_in * w.n_out
        r = w.tally.reads
        ops += per * (r["forward"] + r["backward"] + images)
        ops_inf += per * r["inference"]
    img = max(images, 1)
    train_items = [i for i in items if i.phase in TRAINING_PHASES]
    e_train = sum(i.energy for i in train_items)
    e_sim = sum(i.energy for i in train_items if i.kind != "estimate")
    e_inf = _sum(items, phase="inference")
    t_train = sum(latency[p] for p in TRAINING_PHASES)
    per_image = {
        "energy_J": e_train / img,
        "by_phase_J": {p: _sum(items, phase=p) / img for p in TRAINING_PHASES},
        "by_kind_J": {kd: sum(i.energy for i in train_items if i.kind == kd) / img
                      for kd in ("simulated", "derived", "estimate")},
        "by_layer_J": [sum(i.energy for i in train_items if i.layer == k) / img
                       for k in range(len(layers))],
        "latency_s": t_train / img,
        "latency_by_phase_s": {p: latency[p] / img for p in TRAINING_PHASES},
        "ops": ops / img,
        "tops_per_watt": tops_per_watt(e_train / ops) if ops else None,
        "tops_per_watt_simulated_and_derived": tops_per_watt(e_sim / ops) if ops else None,
    }
    return {
        "images": images, "steps": steps, "test_images": test_images,
        "per_training_image": per_image,
        "per_test_image": {"energy_J": e_inf / max(test_images, 1),
                           "latency_s": latency["inference"] / max(test_images, 1),
                           "tops_per_watt": tops_per_watt(e_inf / ops_inf) if ops_inf
                           else None},
        "program_J": _sum(items, phase="program"),
        "items": [{"layer": i.layer, "phase": i.phase, "item": i.item, "count": i.count,
                   "energy_J": i.energy, "kind": i.kind, "assumption": i.assumption}
                  for i in items],
        "counts": [w.tally.to_json() for w in layers],
        "prices": prices.to_json(),
        "estimates": {f: getattr(spec.ledger, f) for f in LedgerSpec.__dataclass_fields__},
        "papers": [{"claim": r.quantity, "value": r.value, "unit": r.unit,
                    "assumptions": r.assumptions} for r in PAPER_CLAIMS],
        "differences": DIFFERENCES,
    }


def report(led: dict[str, Any]) -> str:
    """The ledger as text: energy per training image by phase and kind, latency, TOPS/W."""
    p = led["per_training_image"]
    lines = [f"energy per training image: {p['energy_J'] * 1e9:.4g} nJ "
             f"(simulated {p['by_kind_J']['simulated'] * 1e9:.3g}, derived "
             f"{p['by_kind_J']['derived'] * 1e9:.3g}, estimate "
             f"{p['by_kind_J']['estimate'] * 1e9:.3g} nJ)"]
    lines.append("  by phase: " + ", ".join(f"{k} {v * 1e9:.3g} nJ"
                                            for k, v in p["by_phase_J"].items()))
    lines.append("  by layer: " + ", ".join(f"{k} {v * 1e9:.3g} nJ"
                                            for k, v in enumerate(p["by_layer_J"])))
    lines.append(f"latency per training image: {p['latency_s'] * 1e6:.4g} us; training "
                 f"{p['tops_per_watt']:.3g} TOPS/W ({p['tops_per_watt_simulated_and_derived']:.3g}"
                 " without the estimates)")
    t = led["per_test_image"]
    if t["tops_per_watt"]:
        lines.append(f"per test image: {t['energy_J'] * 1e9:.4g} nJ, "
                     f"{t['latency_s'] * 1e6:.4g} us, {t['tops_per_watt']:.3g} TOPS/W")
    lines += [f"  {c['claim']}: {c['value']:g} {c['unit']}" for c in led["papers"]]
    return "\n".join(lines)
