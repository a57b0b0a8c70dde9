"""3T1C cell and update testbench: real ngspice runs checked against independent DC physics.

Independent checks used here:
- step per pulse: ``C * dV = integral of I_pull dt``, where ``I_pull(V_gate, V_C)`` comes from a
  separate DC sweep of the same cell (V_C forced by a source) integrated over the pulse's
  trapezoidal gate waveform at the V_C of the pulse's midpoint;
- hold drift: ``C dV/dt = I_net(V_C)`` integrated (RK4) with the DC net leakage current of the
  cell with every gate off; its sign gives the drift direction;
- g: the DC read current ``I_read(V_C) / V_read`` at the sampled V_C.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuitsim.errors import SpecError
from circuitsim.netlist import cell3t1c, tb_update
from circuitsim.netlist import deck as deck_mod
from circuitsim.netlist.cell3t1c import GND, Cell3T1CRowSpec, Cell3T1CSpec
from circuitsim.netlist.elements import instance, vdc, vpwl
from circuitsim.netlist.fmt import num
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.spec import from_mapping, short, to_mapping
from circuitsim.spice.ngspice import run_batch

CELL = Cell3T1CSpec()
#: Runs: the default (8 up, 4 down, ends above the hold equilibrium, drifts down) and a down
#: run that ends below it (drifts up).
SPECS = {
    "default": UpdateTestbenchSpec(),
    "down": UpdateTestbenchSpec(pulses="DDDDDDDDUD", t_hold=100e-6),
}
#: Step tolerance: the node also carries ~0.3 fF of device capacitance (0.3 % of C), the DC
#: table is sampled every 10 mV (trapezoid error on the edges < 0.5 %), and V_C moves 30 mV
#: during a pulse (midpoint approximation): 1.5 % covers these with margin.
STEP_RTOL = 0.015
#: Hold tolerance: 3 % of the drift plus 0.2 mV (table interpolation, device capacitance).
HOLD_RTOL, HOLD_ATOL = 0.03, 2e-4
#: Drifts smaller than this are not "visible"; both runs must exceed it.
MIN_DRIFT = 5e-3
#: The reference cell leaks at |I_net(0.5 V)|/C ~ 6 V/s, i.e. < 0.01 mV over the pulse phase.
REF_TOL = 1e-4


# ---------------------------------------------------------------- independent DC tables

@dataclasses.dataclass(frozen=True)
class Table:
    """Current into the V_C node, shape (n_vc, n_gate), on grids vc (n_vc,) and gate (n_gate,);
    read current per V_C with the pulse gates off."""

    vc: np.ndarray
    gate: np.ndarray
    i_in: np.ndarray
    i_read: np.ndarray


def dc_table(spec: Cell3T1CSpec, which: str) -> Table:
    """DC sweep of the cell: gate ``which`` ("up": upb, "down": dn) from its idle to its active
    level in 60 equal steps, V_C from 0.1 to 0.95 V; the other gate off, read bias on."""
    idle, active = (spec.vdd, spec.v_up_gate) if which == "up" else (0.0, spec.v_down_gate)
    n_gate = 61
    step = (active - idle) / (n_gate - 1)
    src, node = ("Vup", "upb") if which == "up" else ("Vdn", "dn")
    body = [
        *cell3t1c.subckt_lines(spec),
        vdc("Vdd", "vdd", GND, spec.vdd),
        vdc("Vup", "upb", GND, spec.vdd),
        vdc("Vdn", "dn", GND, 0.0),
        vdc("Vrd", "rd", GND, spec.v_read),
        vdc("Vc", "vc", GND, spec.vc0),
        instance("X1", ("vdd", "upb", "dn", "rd", GND, "vc"), "cell3t1c"),
    ]
    # stop half a step beyond the active level so the point count is exactly n_gate
    control = [f".dc {src} {num(idle)} {num(active + step / 2)} {num(step)} Vc 0.1 0.955 0.01",
               f".save v({node}) v(vc) i(vc) i(vrd)"]
    res = run_batch(deck_mod.render("dc table", [], body, models=["ptm45hp"], control=control))
    gate_v, vc_v = res[f"v({node})"], res["v(vc)"]
    n_vc = 86
    assert gate_v.size == n_vc * n_gate
    return Table(vc=vc_v.reshape(n_vc, n_gate)[:, 0], gate=gate_v[:n_gate],
                 i_in=res["i(vc)"].reshape(n_vc, n_gate),
                 i_read=-res["i(vrd)"].reshape(n_vc, n_gate)[:, 0])


def charge_per_pulse(table: Table, spec: Cell3T1CSpec, vc: float) -> float:
    """Charge (C) one pulse moves into the node at V_C = vc: flat top at the active level
    (the last gate point) plus two linear edges (mean current over the uniform gate grid)."""
    current = np.array([np.interp(vc, table.vc, table.i_in[:, j])
                        for j in range(table.gate.size)])
    edge_mean = np.trapezoid(current) / (table.gate.size - 1)
    return current[-1] * spec.t_pulse + 2 * spec.t_edge * edge_mean


def predicted_step(tables: dict[str, Table], spec: Cell3T1CSpec, kind: str, vc: float) -> float:
    table = tables["up" if kind == "U" else "down"]
    first = charge_per_pulse(table, spec, vc) / spec.c
    return charge_per_pulse(table, spec, vc + first / 2) / spec.c


def predicted_hold(table: Table, spec: Cell3T1CSpec, v0: float, t_hold: float) -> float:
    """RK4 of C dV/dt = I_net(V) with every gate off (column 0 of the up table)."""
    i_off = table.i_in[:, 0]

    def rate(v: float) -> float:
        return float(np.interp(v, table.vc, i_off)) / spec.c

    v, n = v0, 4000
    h = t_hold / n
    for _ in range(n):
        k1 = rate(v)
        k2 = rate(v + h * k1 / 2)
        k3 = rate(v + h * k2 / 2)
        k4 = rate(v + h * k3)
        v += h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return v


@pytest.fixture(scope="module")
def tables() -> dict[str, Table]:
    return {"up": dc_table(CELL, "up"), "down": dc_table(CELL, "down")}


@pytest.fixture(scope="module")
def runs():
    return {key: run_batch(tb_update.deck(spec)) for key, spec in SPECS.items()}


def samples(result, spec: UpdateTestbenchSpec, what: str) -> np.ndarray:
    return np.array([result.meas[f"{what}_{k}"] for k in range(len(spec.pulses) + 1)])


# ---------------------------------------------------------------- ngspice tests

@pytest.mark.spice
@pytest.mark.parametrize("key", list(SPECS))
def test_up_raises_down_lowers_vc_and_g(runs, key):
    spec, res = SPECS[key], runs[key]
    vc, g = samples(res, spec, "vc"), samples(res, spec, "g")
    assert not np.isnan(vc).any() and not np.isnan(g).any()
    assert vc[0] == pytest.approx(spec.cell.vc0, abs=1e-6)
    sign = np.array([1.0 if p == "U" else -1.0 for p in spec.pulses])
    assert np.all(sign * np.diff(vc) > 0.02), np.diff(vc)
    assert np.all(sign * np.diff(g) > 0), np.diff(g)


@pytest.mark.spice
@pytest.mark.parametrize("key", list(SPECS))
def test_step_matches_dc_pull_current_charge(runs, tables, key):
    spec, res = SPECS[key], runs[key]
    vc = samples(res, spec, "vc")
    for k, kind in enumerate(spec.pulses):
        expected = predicted_step(tables, spec.cell, kind, vc[k])
        measured = vc[k + 1] - vc[k]
        assert measured == pytest.approx(expected, rel=STEP_RTOL), (k, kind, vc[k])


@pytest.mark.spice
def test_steps_near_30mv_at_half_volt(runs):
    # The spec's default operating point: one up pulse and one down pulse from V_C = 0.5 V.
    up = runs["default"].meas["vc_1"] - CELL.vc0
    down = runs["down"].meas["vc_1"] - CELL.vc0
    assert 0.025 < up < 0.035 and -0.035 < down < -0.025, (up, down)
    assert abs(up + down) < 0.1 * up  # up/down asymmetry below 10 % at 0.5 V


@pytest.mark.spice
@pytest.mark.parametrize("key", list(SPECS))
def test_g_equals_dc_read_conductance(runs, tables, key):
    spec, res = SPECS[key], runs[key]
    vc, g = samples(res, spec, "vc"), samples(res, spec, "g")
    table = tables["up"]
    expected = np.interp(vc, table.vc, table.i_read / spec.cell.v_read)
    np.testing.assert_allclose(g, expected, rtol=0.01, atol=2e-8)


@pytest.mark.spice
@pytest.mark.parametrize("key", list(SPECS))
def test_hold_leakage_drift_direction_and_size(runs, tables, key):
    spec, res = SPECS[key], runs[key]
    v_end = res.meas[f"vc_{len(spec.pulses)}"]
    drift = res.meas["vc_hold"] - v_end
    table = tables["up"]
    net = np.interp(v_end, table.vc, table.i_in[:, 0])
    assert abs(drift) > MIN_DRIFT
    assert np.sign(drift) == np.sign(net)  # the net DC leakage current sets the direction
    expected = predicted_hold(table, spec.cell, v_end, spec.t_hold) - v_end
    assert drift == pytest.approx(expected, rel=HOLD_RTOL, abs=HOLD_ATOL)


@pytest.mark.spice
@pytest.mark.parametrize("key", list(SPECS))
def test_reference_cell_holds_during_pulses(runs, key):
    spec, res = SPECS[key], runs[key]
    pulses_end = tb_update.sample_times(spec)[-1]
    during = res.time <= pulses_end
    ref = res["v(vcref)"][during]
    assert np.max(np.abs(ref - spec.cell.vc0)) < REF_TOL
    gs = res["v(gs)"][during]
    assert np.max(np.abs(gs - res.meas["gs_0"])) < 1e-3 * res.meas["gs_0"]


@pytest.mark.spice
def test_row_offsets_shift_steps_and_g():
    """The row library deck pasted into a hand-written testbench (as a user would, since
    circuitsim runs only self-contained decks): threshold offsets > 0 weaken a transistor."""
    row = Cell3T1CRowSpec(n=3, dvt_read=(0.0, 0.03, -0.03), dvt_up=(0.0, 0.03, -0.03))
    library = cell3t1c.row_deck(row).rstrip().split("\n")[1:-1]  # without title and .end
    c = row.cell
    t0, t1 = 10e-9, 10e-9 + 2 * c.t_edge + c.t_pulse
    body = [
        *library,
        vdc("Vdd", "vdd", GND, c.vdd),
        vpwl("Vup", "upb", GND, [(0.0, c.vdd), (t0, c.vdd), (t0 + c.t_edge, c.v_up_gate),
                                 (t1 - c.t_edge, c.v_up_gate), (t1, c.vdd)]),
        vdc("Vdn", "dn", GND, 0.0),
        *(vdc(f"Vrd{i}", f"rd{i}", GND, c.v_read) for i in range(3)),
        vdc("Vrdref", "rdref", GND, c.v_read),
        instance("X1", [GND if p == "rs" else p for p in cell3t1c.row_ports(row)],
                 "cell3t1c_row"),
    ]
    ic = " ".join(f"v({n})={c.vc0}" for n in ("vc0", "vc1", "vc2", "vcref"))
    control = [f".ic {ic}", ".tran 1e-9 40e-9", ".save v(vc0) v(vc1) v(vc2) v(vcref) "
               "i(vrd0) i(vrd1) i(vrd2) i(vrdref)"]
    res = run_batch("\n".join(["* row test", *body, *control, ".end"]) + "\n")
    step = np.array([res[f"v(vc{i})"][-1] - c.vc0 for i in range(3)])
    g0 = np.array([-res[f"i(vrd{i})"][0] / c.v_read for i in range(3)])
    assert step[1] < step[0] < step[2]
    assert g0[1] < g0[0] < g0[2]
    assert abs(res["v(vcref)"][-1] - c.vc0) < REF_TOL
    assert -res["i(vrdref)"][0] / c.v_read == pytest.approx(g0[0], rel=1e-6)


# ---------------------------------------------------------------- decks and specs (no ngspice)

def test_sample_times_follow_the_pulses():
    spec = UpdateTestbenchSpec(pulses="UDU", t_period=40e-9, t_hold=1e-6)
    np.testing.assert_allclose(tb_update.sample_times(spec), [0, 40e-9, 80e-9, 120e-9])
    ends = tb_update.pulse_starts(spec) + spec.cell.t_pulse + 2 * spec.cell.t_edge
    assert np.all(ends < tb_update.sample_times(spec)[1:])
    text = tb_update.deck(spec)
    assert re.findall(r"^\.meas tran vc_3 FIND v\(vc\) AT=(\S+)$", text, re.M) == ["1.2e-07"]
    assert tb_update.hold_time(spec) == pytest.approx(1.12e-6)


@pytest.mark.parametrize("make", [cell3t1c.deck, cell3t1c.row_deck])
def test_block_decks_are_subckt_libraries(make):
    spec = Cell3T1CSpec() if make is cell3t1c.deck else Cell3T1CRowSpec()
    text = make(spec)
    assert ".subckt" in text and ".model ptm45n" in text
    assert not re.search(r"^\.(tran|dc|op|ac|meas|ic|control)\b", text, re.M | re.I)


@pytest.mark.parametrize("field, value", [("c", -1e-13), ("t_pulse", 0.0), ("w_read", -1e-9),
                                          ("v_up_gate", 1.5), ("g_leak", -1e-12)])
def test_cell_spec_errors_name_field_and_value(field, value):
    with pytest.raises(SpecError, match=re.escape(f"{field}={value!r}")):
        Cell3T1CSpec(**{field: value})


@pytest.mark.parametrize("bad", ["UUX", "U;shell", "", "uu", "U D", "U\n.control", "U" * 513])
def test_bad_pulse_strings_rejected(bad):
    with pytest.raises(SpecError, match=re.escape(f"pulses={short(bad)}")):
        UpdateTestbenchSpec(pulses=bad)
    with pytest.raises(SpecError, match="pulses="):
        from_mapping(UpdateTestbenchSpec, {"pulses": bad})


def test_testbench_and_row_spec_errors():
    with pytest.raises(SpecError, match=re.escape("t_period=1e-08")):
        UpdateTestbenchSpec(t_period=10e-9)
    with pytest.raises(SpecError, match=re.escape("dvt_up=(0.1,)")):
        Cell3T1CRowSpec(n=2, dvt_up=(0.1,))
    with pytest.raises(SpecError, match=re.escape("c=-1.0")):
        from_mapping(UpdateTestbenchSpec, {"cell": {"c": -1.0}})


# ---------------------------------------------------------------- round trips (hypothesis)

small = st.floats(min_value=-0.5, max_value=0.5, allow_nan=False)
cells = st.builds(
    Cell3T1CSpec,
    c=st.floats(1e-15, 1e-12), w_read=st.floats(45e-9, 1e-6), l_read=st.floats(45e-9, 1e-6),
    v_up_gate=st.floats(0.0, 0.99), v_down_gate=st.floats(0.01, 1.0),
    t_pulse=st.floats(1e-10, 1e-7), t_edge=st.floats(1e-11, 1e-8), vc0=st.floats(0.0, 1.0),
    dvt_read=small, dvt_up=small, dvt_down=small, g_leak=st.just(0.0) | st.floats(1e-15, 1e-9),
)


@st.composite
def rows(draw):
    n = draw(st.integers(1, 8))
    per_cell = st.one_of(st.just(()), st.tuples(*[small] * n))
    return Cell3T1CRowSpec(cell=draw(cells), n=n, dvt_read=draw(per_cell),
                           dvt_up=draw(per_cell), dvt_down=draw(per_cell),
                           ref_dvt=draw(st.one_of(st.just(()), st.tuples(small, small, small))))


@st.composite
def tb_specs(draw):
    cell = draw(cells)
    width = cell.t_pulse + 2 * cell.t_edge
    return UpdateTestbenchSpec(cell=cell, pulses=draw(st.from_regex(r"[UD]{1,40}", fullmatch=True)),
                               t_period=2 * width * draw(st.floats(1.0, 10.0)),
                               t_hold=draw(st.floats(1e-9, 1e-2)))


@settings(max_examples=60, deadline=None)
@given(spec=st.one_of(cells, rows(), tb_specs()))
def test_spec_round_trip(spec):
    assert from_mapping(type(spec), to_mapping(spec)) == spec
