"""Energy integration against closed forms, and simulated energies against circuit physics."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.energy import (
    PAPER_CLAIMS,
    PeripheryEstimate,
    energy_report,
    format_report,
    tops_per_watt,
)
from circuitsim.errors import SpecError
from circuitsim.netlist import tb_mac
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.crossbar import CrossbarSpec, conductance_matrix
from circuitsim.netlist.ramp import RampSpec, ramp_design
from circuitsim.phases import run_conversion, run_mac, run_update
from circuitsim.spice.runner import SimOptions
from circuitsim.spice.waveform import settling_time, window_energy, window_integral

OPTIONS = SimOptions()  # the default backend (shared libngspice)


# ---------------------------------------------------------------- integration (no ngspice)

def test_window_integrals_are_exact_for_piecewise_linear_signals():
    t = np.array([0.0, 0.3, 1.0, 2.0])
    v = 2 * t  # linear
    i = -3 * t + 1  # linear, SPICE sign: the source delivers v * (-i)
    windows = [[0.0, 2.0], [0.1, 0.7], [0.3, 0.3], [1.5, 2.0]]
    def f(a, b):  # closed form of the integral of 2t * (3t - 1) from a to b
        return 2 * (b**3 - a**3) - (b**2 - a**2)
    np.testing.assert_allclose(window_energy(t, v, i, windows), [f(*w) for w in windows],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(window_integral(t, v, windows),
                               [b**2 - a**2 for a, b in windows], rtol=1e-12, atol=1e-15)
    # several signals at once, and a constant voltage
    both = window_energy(t, 0.5, np.stack([i, 2 * i]), windows)
    assert both.shape == (2, 4)
    np.testing.assert_allclose(both[1], 2 * both[0])
    with pytest.raises(ValueError, match="outside"):
        window_integral(t, v, [[0.0, 3.0]])


def test_settling_time_interpolates_the_band_entry():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 0.5, 1.0, 1.0])
    # band 1e-3 * 1 + 0: entered where y = 0.999, i.e. at t = 1 + 0.998
    assert settling_time(t, y, 0.0, 3.0, rtol=1e-3, atol=0.0) == pytest.approx(1.998)
    assert settling_time(t, np.ones(4), 0.0, 3.0) == 0.0


def test_tops_per_watt_and_periphery_validation():
    assert tops_per_watt(1e-15) == pytest.approx(1000.0)
    assert PAPER_CLAIMS[0].value == pytest.approx(28.065)
    with pytest.raises(SpecError, match="p_opamp"):
        PeripheryEstimate(p_opamp=0.0)


# ---------------------------------------------------------------- MAC read energy

def analytic_read_energy(spec: tb_mac.MacTestbenchSpec) -> np.ndarray:
    """Ideal wires and virtual ground: port p sees the conductance sum of its line, and its
    trapezoid (level V, plateau w, edges e) delivers V^2 * G_sum * (w + 2e/3) per window."""
    g = conductance_matrix(spec.crossbar)
    g_port = g.sum(axis=1) if spec.direction == "forward" else g.sum(axis=0)
    v, w = tb_mac.drive_voltages(spec), tb_mac.drive_widths(spec)
    t_eff = np.where(w > 0, w + 2 * spec.t_edge / 3, 0.0)
    return (v**2 * t_eff) @ g_port


@pytest.mark.spice
@pytest.mark.parametrize("direction, encoding, sensing, differential", [
    ("forward", "amplitude", "tia", False),
    ("backward", "amplitude", "integrator", True),
    ("forward", "pulse_width", "integrator", True),
])
def test_mac_read_energy_equals_sum_v2_g_t(direction, encoding, sensing, differential):
    xs = CrossbarSpec(rows=8, cols=6, differential=differential, g_seed=41)
    n = 8 if direction == "forward" else 6
    x = np.random.default_rng(42).uniform(-1, 1, (3, n))
    res = run_mac(xs, x, direction, options=OPTIONS, encoding=encoding, sensing=sensing)
    expected = analytic_read_energy(res.spec())
    # exact integration of exact (linear-network) currents: agreement to ngspice's precision
    np.testing.assert_allclose(res.energy, expected, rtol=1e-6)
    assert res.energy_ports.shape == (3, res.drive_voltages.shape[1])
    assert np.all(res.energy_ports >= 0)
    assert res.energy_per_op == pytest.approx(res.energy.mean() / (2 * 8 * 6))


# ---------------------------------------------------------------- 3T1C update energy

@pytest.fixture(scope="module")
def update():
    return run_update(Cell3T1CSpec(), "UUUUDDU", t_hold=20e-6, options=OPTIONS)


@pytest.mark.spice
def test_up_pulse_supply_charge_is_the_capacitor_charge(update):
    up = update.kinds > 0
    # charge conservation: V_DD's charge ends on the V_C node: C*dV plus the node's device
    # capacitance (~0.5 fF, 0.5 % of C) and < 1e-4 of leakage over a period
    ratio = update.charge_supply[up] / (update.c * update.dvc[up])
    assert np.all(ratio > 1.0) and np.all(ratio < 1.02), ratio
    # hence the energy lower bound C*dV*VDD (the pull-up dissipates the rest)
    assert np.all(update.energy_supply[up] >= update.c * update.dvc[up] * update.vdd)
    assert np.all(update.energy_pulse[up] >= update.c * update.dvc[up] * update.vdd)
    # down pulses discharge V_C to ground: V_DD moves < 1e-3 of that charge
    down = ~up
    assert np.all(np.abs(update.charge_supply[down]) < 1e-3 * update.c * -update.dvc[down])


@pytest.mark.spice
def test_ideal_pulse_lines_return_their_charge(update):
    # an ideal source takes back the gate charge on the return edge (what is left: gate
    # tunnelling, and the drain moved 30 mV meanwhile): the net line energy is < 1 % of the
    # storage node's C*|dV|*VDD; a real driver would dissipate C_line * swing^2 instead
    assert np.all(update.energy_lines_cv2 > 0)
    bound = 0.01 * update.c * np.abs(update.dvc) * update.vdd
    assert np.all(np.abs(update.energy_lines) < bound)
    # read bias: V_read^2 * (g + g_shared) * T per period, with g at its value before the
    # pulse until the pulse's middle (T/4 + t_edge + t_pulse/2 = 0.37 T), after it from then
    # (g moves non-linearly during the pulse; measured within 0.2 %)
    f = (50e-9 / 4 + 1e-9 + 5e-9) / 50e-9
    g_mean = f * update.g[:-1] + (1 - f) * update.g[1:]
    approx = 0.1**2 * (g_mean + update.g_shared[:-1]) * update.t_period
    np.testing.assert_allclose(update.energy_read_bias, approx, rtol=0.01)


# ---------------------------------------------------------------- conversion energy

@pytest.fixture(scope="module")
def conversion():
    return run_conversion(RampSpec(bits=3), ComparatorSpec(), [-1.0, 0.5, 2.0], options=OPTIONS)


@pytest.mark.spice
def test_ramp_row_energy_equals_sum_g_v2_t(conversion):
    r = RampSpec(bits=3)
    d = ramp_design(r)
    # each row: trapezoid of area v_read * t_read (flat top t_read - e, two edges), into the
    # virtual-ground column (at -V_out / 1e6, negligible)
    t_eff = r.t_read - r.t_edge + 2 * r.t_edge / 3
    expected = r.v_read**2 * t_eff * (sum(d.g_ramp) + sum(d.g_cal))
    assert conversion.energy_ramp == pytest.approx(expected, rel=1e-5)


@pytest.mark.spice
def test_comparator_energy_is_its_static_bias(conversion):
    c = ComparatorSpec()
    n = len(conversion.x)
    mean_current = conversion.energy_comparators / (c.vdd * conversion.latency)
    # mirrors: bias i_bias once, then per comparator the tail (x w_tail/w_bias) and the
    # stage-2 load (x w_cs_load/w_bias); channel-length modulation and the switching inverter
    # move this by some 15 %
    nominal = c.i_bias * (1 + n * (c.w_tail + c.w_cs_load) / c.w_bias)
    assert 0.7 * nominal < mean_current < 1.1 * nominal
    assert conversion.energy_clock == 0.0  # no clocked comparator
    assert conversion.energy_per_conversion == pytest.approx(
        (conversion.energy_ramp + conversion.energy_comparators) / n)
    assert np.all(conversion.energy_mac_inputs > 0)


# ---------------------------------------------------------------- report

@pytest.mark.spice
def test_energy_report_rows_and_paper_claims(update, conversion):
    xs = CrossbarSpec(rows=4, cols=4, g_seed=43)
    mac = run_mac(xs, np.full((2, 4), 0.5), options=OPTIONS)
    p = PeripheryEstimate(p_opamp=1e-5)
    rows = energy_report(mac=mac, update=update, conversion=conversion, periphery=p)
    by_name = {r.quantity: r for r in rows}
    e_read = mac.energy.mean()
    assert by_name["MAC read energy (array)"].value == pytest.approx(e_read * 1e12)
    assert by_name["array energy per operation"].value == pytest.approx(e_read / 32 * 1e15)
    assert by_name["array efficiency"].value == pytest.approx(32 / e_read / 1e12)
    assert by_name["sense amplifiers (estimate)"].value == pytest.approx(
        4 * 1e-5 * mac.t_window * 1e12)
    assert by_name["sense amplifiers (estimate)"].kind == "estimate"
    assert {r.kind for r in rows} == {"simulated", "derived", "estimate", "paper"}
    assert rows[-len(PAPER_CLAIMS):] == list(PAPER_CLAIMS)
    text = format_report(rows)
    assert "28.07" in text and "TOPS/W" in text and "Yang 2025" in text
    assert len(text.splitlines()) == len(rows) + 1
