"""A failed simulation is never a result: every ngspice failure mode raises the same
:class:`SimError` on both backends, with the deck, the log and the kept run directory."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from circuitsim.errors import SimError
from circuitsim.spice.options import SimOptions
from circuitsim.spice.rawfile import read_raw
from circuitsim.spice.runner import simulate

OK = "* ok\nR1 a 0 1k\nV1 a 0 1\n.tran 1n 10n\n.save v(a) i(V1)\n.end\n"

#: (id, deck, what the error message must say)
FAILURES = [
    ("unknown-subckt", "* t\nR1 a 0 1k\nV1 a 0 1\nX1 a b nosub\n.tran 1n 10n\n.end\n",
     "unknown subckt"),
    ("fatal-param", "* t\nR1 a 0 {nosuch}\nV1 a 0 1\n.tran 1n 10n\n.end\n", "netlist line"),
    ("analysis-not-run", "* t\nR1 a 0 1k\nV1 a 0 1\n.save v(nosuch)\n.tran 1n 10n\n.end\n",
     "analysis not run"),
    ("missing-model", "* t\nR1 a 0 1k\nV1 a 0 1\nC1 a 0 1x2\n.tran 1n 10n\n.end\n",
     "can't find model '1x2'"),
    ("no-analysis", "* t\nR1 a 0 1k\nV1 a 0 1\n.end\n", "no analysis results"),
    ("singular", "* t\nV1 a 0 1\nR1 a 0 1k\nC1 b c 1p\n.tran 1n 10n\n.end\n", "singular matrix"),
]


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["shared", "batch"])
@pytest.mark.parametrize("deck, needle", [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_every_failure_mode_raises_with_log_and_run_dir(tmp_path, backend, deck, needle):
    with pytest.raises(SimError, match=f"ngspice failed: .*{needle}") as info:
        simulate(deck, SimOptions(backend=backend))
    err = info.value
    assert err.deck == deck and err.log and err.run_dir is not None and err.run_dir.is_dir()
    assert (err.run_dir / "ngspice.log").read_text().strip()


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["shared", "batch"])
def test_a_missing_vector_is_a_sim_error_naming_what_was_saved(backend):
    res = simulate(OK, SimOptions(backend=backend))
    np.testing.assert_allclose(res["I(V1)"], -1e-3, rtol=1e-9)  # Ohm's law, any case
    with pytest.raises(SimError, match=r"no vector 'v\(b\)' .*saved: i\(v1\), v\(a\)"):
        res["v(b)"]


def _raw(tmp_path):
    """A real raw file of OK, copied into tmp_path (the kept run dir is removed)."""
    res = simulate(OK, SimOptions(backend="batch", keep_dir=True))
    (tmp_path / "out.raw").write_bytes((res.run_dir / "out.raw").read_bytes())
    shutil.rmtree(res.run_dir)
    return (tmp_path / "out.raw").read_bytes(), res


@pytest.mark.spice
@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_a_truncated_raw_file_is_a_sim_error(tmp_path, cut):
    data, res = _raw(tmp_path)
    whole = read_raw(tmp_path / "out.raw")[-1].vectors
    np.testing.assert_array_equal(whole["v(a)"], res["v(a)"])
    short = tmp_path / "short.raw"
    short.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(SimError, match="truncated or malformed"):
        read_raw(short)


def test_an_empty_raw_file_is_a_sim_error(tmp_path):
    (tmp_path / "e.raw").write_bytes(b"\n")
    with pytest.raises(SimError, match="holds no plot"):
        read_raw(tmp_path / "e.raw")
