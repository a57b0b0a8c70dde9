"""The energy and latency ledger of training runs: counts against hand counts, priced
operations against SPICE's source-current integrals, and a ledger that never changes what
is trained."""

from __future__ import annotations

import json

import numpy as np
import pytest

from circuitsim.characterize.common import run_points
from circuitsim.phases.mac import mac_point
from circuitsim.spec import build
from circuitsim.surrogate import service
from circuitsim.surrogate.cache import SurrogateCache
from circuitsim.train import data, ledger, loop, prices
from circuitsim.train.config import TrainSpec
from circuitsim.train.periphery import Periphery, PeripherySpec
from circuitsim.train.tally import Tally

pytestmark = pytest.mark.spice  # QUICK surrogates and the price decks (SPICE on a cold cache)

BASE = {"rule": "ambrogio", "hidden": 12, "epochs": 1, "max_train": 30, "batch": 3,
        "ambrogio": {"cell_c": 100e-15, "transfer_every": 15, "leak_every": 0}}


@pytest.fixture(scope="module")
def sur():  # the session's QUICK surrogates (the 100 fF cell)
    return loop.load_surrogates(build(TrainSpec, BASE))


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def _run(sur, ds, **over):
    spec = build(TrainSpec, {**BASE, **over})
    return loop.run(spec, ds=ds, sur=sur, progress=False)


def test_counts_are_the_hand_counts(sur, digits):
    """An MLP 64-12-10 (+ bias rows) on 30 images, batch 3, 1 epoch, transfers every
    15 images: every read, conversion, transfer and RESET counted by hand."""
    res = _run(sur, digits)
    c0, c1 = res.ledger["counts"]
    n, n_test = 30, len(digits.x_test)
    # layer 0 (65 x 12): forward reads convert through the ramp-ADC activation
    assert c0["forward"] == {"reads": n, "dac": n * 65, "sense": n * 12, "ramp": n * 12}
    assert "backward" not in c0  # the first layer's errors are never read back
    assert c0["inference"] == {"reads": n_test, "dac": n_test * 65, "sense": n_test * 12,
                               "ramp": n_test * 12}
    # layer 1 (13 x 10): output ADC forward, backward read of 10 error lines into 13 ADCs
    assert c1["forward"] == {"reads": n, "dac": n * 13, "sense": n * 10, "adc": n * 10}
    assert c1["backward"] == {"reads": n, "dac": n * 10, "sense": n * 13, "adc": n * 13}
    for c, (rows, cols) in ((c0, (65, 12)), (c1, (13, 10))):
        t = c["transfer"]
        assert t["transfers"] == 2
        assert t["pcm_resets"] == 2 * 2 * rows * cols  # both devices of every pair, twice
        assert t["vc_resets"] == 2 * (rows * cols + cols)  # cells and reference cells
        assert c["program"]["pcm_resets"] == 2 * rows * cols
        assert c["update"]["pulses_up"] > 0 and c["update"]["pulses_down"] > 0
    led = res.ledger
    assert led["images"] == n and led["steps"] == n // 3
    json.dumps(led, allow_nan=False)  # strict JSON
    per = led["per_training_image"]
    assert per["energy_J"] == pytest.approx(sum(per["by_phase_J"].values()), rel=1e-12)
    assert per["energy_J"] == pytest.approx(sum(per["by_kind_J"].values()), rel=1e-12)
    assert per["ops"] == 2 * (65 * 12 + 13 * 10 * 2) + 2 * (65 * 12 + 13 * 10)


def test_pulse_tally_is_the_cells_movement(sur, digits):
    """Without transfers and leakage, the up steps minus the down steps tallied (initial
    programming and updates) is the net V_C change of the cells (an independent sum over
    the final state)."""
    res = _run(sur, digits, ambrogio={"cell_c": 100e-15, "transfer_every": 10_000,
                                      "leak_every": 0})
    for w, c in zip(res.model.layers, res.ledger["counts"], strict=True):
        u, w0 = c["update"], c["program"]  # the initial weights' write-and-verify too
        net = float(np.sum(w.vc.astype(np.float64) - sur.update.vc0))
        tallied = u["dv_up"] - u["dv_down"] + w0["dv_up"] - w0["dv_down"]
        assert tallied == pytest.approx(net, rel=1e-6, abs=1e-9)
        assert u["dv_up"] > 0.005 * u["pulses_up"]  # steps of ~20 mV at 100 fF


def test_engines_tally_the_same(sur, digits):
    """The compiled and the numpy path count the same operations (bitwise-equal training,
    so equal counts; sums of float read energies up to summation order)."""
    over = {"ambrogio": {"cell_c": 100e-15, "transfer_every": 12, "leak_every": 5}}
    a, b = (_run(sur, digits, engine=e, **over).ledger for e in ("numpy", "numba"))
    for ca, cb in zip(a["counts"], b["counts"], strict=True):
        assert ca.keys() == cb.keys()
        for phase in ca:
            assert ca[phase] == pytest.approx(cb[phase], rel=1e-9)
    ea = [i["energy_J"] for i in a["items"]]
    eb = [i["energy_J"] for i in b["items"]]
    assert ea == pytest.approx(eb, rel=1e-9)


def test_ledger_does_not_change_training(sur, digits):
    on, off = (_run(sur, digits, ledger={"enabled": e}) for e in (True, False))
    assert off.ledger is None and on.ledger is not None
    strip = [[{k: v for k, v in h.items() if k not in loop.TIMINGS} for h in r.history]
             for r in (on, off)]
    assert strip[0] == strip[1]
    for a, b in zip(on.model.layers, off.model.layers, strict=True):
        assert np.array_equal(a.weights(), b.weights())


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_read_energy_against_spice_driver_integral(sur, direction):
    """A tile read priced the ledger's way (DAC line sums x line conductances) against the
    energy ngspice integrates from the input sources of the same read."""
    rng = np.random.default_rng(7)
    m = sur.mac
    g = rng.uniform(m.g_min, m.g_max, (16, 12))
    n_drive = 16 if direction == "forward" else 12
    x = rng.integers(-63, 64, (3, n_drive)) / 63.0  # exactly on a 7-bit DAC's levels
    tally = Tally(16, 12)
    per = Periphery(PeripherySpec(noise_management=False), np.random.default_rng(0),
                    compiled=True)
    act = tally.read(direction, len(x))
    per.dac(x, None, act, m.line_energy)
    tally.flush(g.sum(axis=1), g.sum(axis=0))
    spec = sur.specs["mac"]
    res = run_points(mac_point, [spec.circuit.testbench(g, x, direction)], store=None,
                     workers=1, scheduler=None, progress=False, desc="ledger read")[0]
    assert tally.read_energy[direction] == pytest.approx(float(res.energy.sum()), rel=0.01)


def test_pulse_prices_against_the_capacitor_physics(sur):
    """The 3T1C price deck: an up pulse's energy is the supply charging C (C VDD per volt of
    V_C), the linear fit reproduces every pulse's SPICE energy, a down pulse costs ~nothing
    from the supply."""
    kw = service.Runner(progress=False).kwargs(SurrogateCache())
    p = prices.pulse_prices(sur.specs["update"], kw)
    assert p.up_per_volt == pytest.approx(p.c * p.vdd, rel=0.05)
    mean_up = p.up_fixed + p.up_per_volt * 0.02  # a ~20 mV step at 100 fF
    assert p.fit_rms < 0.02 * mean_up
    assert abs(p.down_per_volt) < 0.01 * p.up_per_volt


def test_report_and_priced_items(sur, digits):
    res = _run(sur, digits)
    led = res.ledger
    text = ledger.report(led)
    assert "energy per training image" in text and "TOPS/W" in text and "Ambrogio" in text
    conv = led["prices"]["conversion"]
    ramp = [i for i in led["items"] if i["item"].startswith("ramp-ADC")]
    assert ramp and all(i["energy_J"] == pytest.approx(i["count"] * conv["energy"])
                        for i in ramp)
    assert {i["kind"] for i in led["items"]} <= {"simulated", "derived", "estimate"}


def test_pulse_rule_counts_its_device_pulses(sur, digits):
    res = _run(sur, digits, rule="pulse")
    led = res.ledger
    for w, c in zip(res.model.layers, led["counts"], strict=True):
        assert c["update"]["device_pulses"] == w.pulses > 0
    items = [i for i in led["items"] if i["item"] == "device pulses"]
    assert sum(i["count"] for i in items) == sum(w.pulses for w in res.model.layers)
