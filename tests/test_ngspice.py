"""The batch runner: results, failures carrying deck/log/run dir, timeouts, version checks."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from circuitsim.errors import NetlistError, SetupError, SimError
from circuitsim.spice import control, ngspice
from circuitsim.spice.ngspice import parse_meas, run_batch

RC = """* rc step
V1 a 0 pwl(0 0 1n 1)
R1 a b 1k
C1 b 0 1n
.tran 10n 5u
.save v(b)
.meas tran vb1 FIND v(b) AT=1u
.meas tran never WHEN v(b)=5 RISE=1
.end
"""


@pytest.mark.spice
def test_rc_step_follows_exponential_and_meas_values():
    res = run_batch(RC)
    tau = 1e3 * 1e-9
    t, vb = res.time, res["v(b)"]
    late = t > 20e-9
    # exact response to a 1 ns ramp then a step: 1 - (tau/1ns)(e^{1ns/tau} - 1) e^{-t/tau}
    expected = 1 - (tau / 1e-9) * np.expm1(1e-9 / tau) * np.exp(-t[late] / tau)
    np.testing.assert_allclose(vb[late], expected, atol=2e-3)
    assert res.meas["vb1"] == pytest.approx(np.interp(1e-6, t, vb), rel=1e-5)
    assert np.isnan(res.meas["never"])  # a failed measurement is NaN, not an error
    assert res.ngspice_version.startswith("4") and res.wall_time > 0


@pytest.mark.spice
def test_syntax_error_raises_with_deck_log_and_kept_dir():
    bad = RC.replace("R1 a b 1k", "R1 a b")
    with pytest.raises(SimError) as info:
        run_batch(bad)
    err = info.value
    assert err.deck == bad and err.log and err.run_dir is not None
    assert (err.run_dir / "deck.cir").exists() and (err.run_dir / "ngspice.log").exists()


@pytest.mark.spice
def test_timeout_raises_and_keeps_run_dir():
    slow = RC.replace(".tran 10n 5u", ".tran 1m 1m 0 1p")
    with pytest.raises(SimError, match="timeout") as info:
        run_batch(slow, timeout=1.0)
    assert info.value.run_dir is not None and info.value.run_dir.exists()


def test_deck_without_end_or_with_control_is_refused():
    with pytest.raises(NetlistError, match=".end"):
        control.runnable("* t\nR1 a 0 1\n")
    with pytest.raises(NetlistError, match=".control"):
        control.runnable("* t\nR1 a 0 1\n.control\nshell ls\n.endc\n.end\n")


def test_parse_meas_reads_values_and_failures():
    log = "vb1                 =  6.31939e-01\n .meas tran never when v(b)=5 rise=1 failed!\n"
    assert parse_meas(log) == {"vb1": 0.631939, "never": pytest.approx(float("nan"),
                                                                       nan_ok=True)}


def _fake_ngspice(tmp_path, banner: str) -> str:
    """A stand-in executable printing another ngspice build's --version banner: the old or
    KLU-less builds cannot be installed beside the real one, so only their banner is faked."""
    exe = tmp_path / "ngspice"
    exe.write_text(f"#!/bin/sh\necho '{banner}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


@pytest.mark.parametrize("banner, needle", [
    ("** ngspice-39 : Circuit level simulation program\n** Compiled with KLU Direct Linear Solver",
     "too old"),
    ("** ngspice-46 : Circuit level simulation program", "without KLU"),
    ("something else", "cannot read the ngspice version"),
])
def test_version_check_messages(tmp_path, monkeypatch, banner, needle):
    monkeypatch.setenv("CIRCUITSIM_NGSPICE", _fake_ngspice(tmp_path, banner))
    ngspice._version_of.cache_clear()
    try:
        with pytest.raises(SetupError, match=needle) as info:
            ngspice.ngspice_version()
        assert "apt-get install" in str(info.value)
    finally:
        ngspice._version_of.cache_clear()


def test_missing_ngspice(monkeypatch):
    monkeypatch.delenv("CIRCUITSIM_NGSPICE", raising=False)
    monkeypatch.setenv("PATH", os.devnull)
    with pytest.raises(SetupError, match="not found"):
        ngspice.ngspice_executable()


@pytest.mark.spice
def test_ascii_raw_file_reads_like_the_binary_one(tmp_path):
    """ngspice writes the same run as an ASCII raw file; both readers agree."""
    import subprocess

    from circuitsim.spice.rawfile import read_raw

    body = RC.replace(".end\n", "")
    (tmp_path / "a.cir").write_text(body + ".control\nset filetype=ascii\nrun\n"
                                    "write a.raw\nquit\n.endc\n.end\n")
    subprocess.run([ngspice.ngspice_executable(), "-b", "a.cir"], cwd=tmp_path,
                   capture_output=True, check=True, stdin=subprocess.DEVNULL)
    ascii_plot = read_raw(tmp_path / "a.raw")[-1].vectors
    binary = run_batch(RC)
    np.testing.assert_allclose(ascii_plot["time"], binary.time, rtol=1e-6)
    np.testing.assert_allclose(ascii_plot["v(b)"], binary["v(b)"], rtol=1e-6, atol=1e-12)
