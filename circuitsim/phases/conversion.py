"""Ramp-ADC conversion phase: MAC voltages converted to activation codes by the shared ramp.

:func:`run_conversion` runs :mod:`circuitsim.netlist.tb_conversion` for a batch of inputs
(one MAC integrator and comparator each, one shared ramp column) and reads the codes from the
comparator waveforms with :func:`circuitsim.netlist.adc.code_from_waveform` at
:func:`circuitsim.netlist.adc.sample_times` (the counter).

Energy of the conversion, over the ramp ``[t_start, t_end]`` (the latency, ``2^B`` clock
periods): the ramp column's row drivers (calibration and ramp rows, ∫ v·(−i) dt; shared by all
inputs), the comparator supply ``Vdd`` (every comparator plus the shared bias branch of the
continuous one) and, for the StrongARM latch, its clock line: ``vdd`` times the charge the
clock source delivers (an ideal source takes the gate charge back on the falling edge, a real
driver dissipates it). ``energy_per_conversion`` divides their sum by the number of inputs.
Excluded: the integrators (behavioural VCVS op-amps and ideal reset switches draw nothing in
the deck), the counter and its clock (not simulated), the comparators' supply before the ramp
starts (reset and MAC integration). The MAC input drivers' energy is reported separately
(``energy_mac_inputs``, over ``[0, t_start]``): it stands in for the array read, not the ADC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuitsim.activations import as_activation
from circuitsim.netlist import adc, tb_conversion
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.ramp import RampSpec, ramp_design
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases.records import Record
from circuitsim.phases.technology import options_for
from circuitsim.spec import from_mapping, to_mapping
from circuitsim.spice.runner import SimOptions, simulate
from circuitsim.spice.waveform import source_energy, window_energy, window_integral

#: The point of a conversion sweep is the testbench spec.
ConversionPoint = ConversionTestbenchSpec

_DEFAULTS = ConversionTestbenchSpec()


@dataclass(frozen=True, slots=True, eq=False)
class ConversionResult(Record):
    """``n`` inputs converted with one ``B``-bit ramp (``S`` = 2^B − 1 counter samples)."""

    activation: str
    bits: int
    x: np.ndarray  #: (n,) inputs (pre-activation values)
    codes: np.ndarray  #: (n,) int, counted codes 0 .. 2^B - 1
    ideal_codes: np.ndarray  #: (n,) int, activation code of x (round((2^B-1) f(x)) style)
    t_flip: np.ndarray  #: (n,) s, first fall of the comparator output after t_start (NaN: none)
    v_mac: np.ndarray  #: (n,) V, MAC integrator voltage at t_start
    v_mac_ideal: np.ndarray  #: (n,) V, V_in(x) * v_read_applied / v_read
    sample_times: np.ndarray  #: (S,) s, counter samples (end of ramp steps 1 .. 2^B - 1)
    v_ramp: np.ndarray  #: (S,) V, simulated ramp at the sample times
    v_ramp_ideal: np.ndarray  #: (S,) V, ramp from the conductances with an ideal integrator
    t_start: float  #: s, start of the ramp (calibration step)
    t_end: float  #: s, end of the last ramp step
    latency: float  #: s, conversion time t_end - t_start = 2^B clock periods
    energy_ramp: float  #: J, ramp column row drivers over the ramp (shared by all inputs)
    energy_comparators: float  #: J, comparator supply over the ramp (all + shared bias)
    energy_clock: float  #: J, latch clock line over the ramp (vdd x charge it draws; 0: none)
    energy_per_conversion: float  #: J, (energy_ramp + energy_comparators + energy_clock) / n
    energy_mac_inputs: np.ndarray  #: (n,) J, MAC input drivers over [0, t_start]
    spec_json: str
    ngspice_version: str

    def spec(self) -> ConversionTestbenchSpec:
        return from_mapping(ConversionTestbenchSpec, json.loads(self.spec_json))


def first_fall(time: np.ndarray, v: np.ndarray, level: float, after: float) -> float:
    """First instant after ``after`` when ``v`` falls through ``level`` (interpolated), or NaN."""
    hi, lo = v[:-1] > level, v[1:] <= level
    idx = np.nonzero(hi & lo & (time[1:] > after))[0]
    if idx.size == 0:
        return float("nan")
    j = idx[0]
    t = time[j] + (v[j] - level) / (v[j] - v[j + 1]) * (time[j + 1] - time[j])
    return float(max(t, after))


def conversion_point(spec: ConversionTestbenchSpec,
                     options: SimOptions | None = None) -> ConversionResult:
    """Simulate the conversion testbench ``spec``."""
    deck = tb_conversion.deck(spec)
    res = simulate(deck, options_for(spec.comparator.technology, options))
    r, cmp_ = spec.ramp, spec.comparator
    t = res.time
    n = len(spec.x)
    ts = adc.sample_times(r)
    outs = [res[f"v(out{i})"] for i in range(n)]
    codes = np.array([adc.code_from_waveform(t, o, ts, cmp_.threshold) for o in outs])
    act = as_activation(r.activation_fn(), r.x_min, r.x_max)
    design = ramp_design(r)
    scale = r.v_applied / r.v_read
    ramp_window = [[r.t_start, r.t_end]]
    currents = np.array([res[i] for i, _ in tb_conversion.ramp_sources(spec)])
    voltages = np.array([res[v] for _, v in tb_conversion.ramp_sources(spec)])
    e_ramp = float(window_energy(t, voltages, currents, ramp_window).sum())
    e_cmp = float(source_energy(res, "Vdd", cmp_.vdd, ramp_window)[0])
    e_clk = 0.0
    if cmp_.kind == "strongarm":  # an ideal source gets the gate charge back; a driver cannot
        e_clk = cmp_.vdd * float(window_integral(t, np.maximum(-res["i(Vclk)"], 0.0),
                                                 ramp_window)[0])
    e_mac = np.array([source_energy(res, f"Vx{i}", f"v(xrow{i})", [[0.0, r.t_start]])[0]
                      for i in range(n)])
    return ConversionResult(
        activation=r.activation, bits=r.bits, x=np.asarray(spec.x, dtype=float), codes=codes,
        ideal_codes=act.code(np.asarray(spec.x), r.bits),
        t_flip=np.array([first_fall(t, o, cmp_.threshold, r.t_start) for o in outs]),
        v_mac=np.array([np.interp(r.t_start, t, res[f"v(mac{i})"]) for i in range(n)]),
        v_mac_ideal=design.v_in(np.asarray(spec.x)) * scale, sample_times=ts,
        v_ramp=np.interp(ts, t, res["v(ramp)"]),
        v_ramp_ideal=design.ramp_voltages(spec.ramp_column().v_applied)[1:],
        t_start=r.t_start, t_end=r.t_end,
        latency=r.t_end - r.t_start, energy_ramp=e_ramp, energy_comparators=e_cmp,
        energy_clock=e_clk, energy_per_conversion=(e_ramp + e_cmp + e_clk) / n,
        energy_mac_inputs=e_mac,
        spec_json=json.dumps(to_mapping(spec)), ngspice_version=res.ngspice_version)


def decks(spec: Any) -> list[str]:
    """The decks :func:`conversion_point` simulates for ``spec`` (hashed into sweep keys)."""
    return [tb_conversion.deck(spec)]


# circuitsim.store.point_key hashes the decks of functions that declare them
conversion_point.decks = decks  # type: ignore[attr-defined]

def run_conversion(ramp: RampSpec, comparator: ComparatorSpec, inputs: np.ndarray, *,
                   t_int: float = _DEFAULTS.t_int, t_step: float = _DEFAULTS.t_step,
                   options: SimOptions | None = None) -> ConversionResult:
    """Convert every value of ``inputs`` (shape ``(n,)``, 1 .. 256 values) with one shared ramp.
    Invalid arguments raise :class:`SpecError` naming the field."""
    x = tuple(float(v) for v in np.asarray(inputs, dtype=float).ravel())
    spec = ConversionTestbenchSpec(ramp=ramp, comparator=comparator, x=x, t_int=t_int,
                                   t_step=t_step)
    return conversion_point(spec, options)
