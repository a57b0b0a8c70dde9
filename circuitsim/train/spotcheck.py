"""SPICE spot-checks of the surrogates on a network's current state, run every few steps.

:func:`mac_spot_check` reads a random tile (at most ``max_rows`` x ``max_cols``, never larger
than the largest characterized tile) of the current conductance matrix in ngspice: the tile
is built as its own array from the characterization circuit (``spec.circuit.testbench``: wire
resistance and capacitance, read law, cell, encoding and sensing of the surrogate's read mode,
exactly as characterization and validation build it), a few input vectors are read in one deck
(consecutive windows), and the column (forward) or row (backward) reads in ampere equivalents
(``spec.circuit.readout``) are compared with the surrogate's prediction for the same tile and with
the ideal ``G^T V``. Errors are in % of full scale, FS = ``max |ideal G^T V|`` over the
check's reads (the MAC validation's definition). Conductances outside the surrogate's
``[g_min, g_max]`` are clipped first (the circuit and the surrogate only cover that range);
how many were clipped is reported.

:func:`update_spot_check` runs ``k`` 3T1C cells in ngspice from the trainer's V_C with the
trainer's pulse sequences (one testbench per cell, as the update validation runs them) and
compares every pulse's ``dg`` (surrogate applied to the SPICE V_C before the pulse, as
:func:`circuitsim.surrogate.update.validate` does) and the final ``g`` (surrogate run open
loop from the given V_C, which is what the trainer holds). A ``0`` in a sequence is a period
without a pulse: the testbench has no idle period, so zeros are dropped from the SPICE
sequence (their only effect, the leakage over one 50 ns period, is far below a pulse step);
a cell without any pulse is not simulated.

Both return a :class:`SpotCheck` (JSON-able metrics). Cost: one SPICE deck for a MAC check,
one small deck per cell for an update check, plus the start of ``workers`` worker processes;
a few seconds each (see the tests).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim.characterize.common import run_points
from circuitsim.characterize.mac import MacCharSpec, ideal_read
from circuitsim.characterize.update import UpdateCharSpec
from circuitsim.errors import SpecError
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases.mac import mac_point
from circuitsim.phases.update import update_point
from circuitsim.spec import to_mapping
from circuitsim.surrogate.mac import MacSurrogate
from circuitsim.surrogate.update import UpdateSurrogate

DIRECTIONS = ("forward", "backward")
#: Hold after an update check's last pulse (s): the testbench needs one; kept short (cheap).
UPDATE_HOLD = 1e-6
#: Longest pulse sequence one update testbench takes.
MAX_PULSES = 512


@dataclass(frozen=True, slots=True)
class SpotCheck:
    """One spot-check: surrogate vs SPICE on the network's state at training step ``step``."""

    kind: str  #: "mac" or "update"
    metrics: dict[str, float]  #: named figures (units in the names: pct, uS, mV, A)
    seconds: float  #: wall time of the check (SPICE runs included)
    detail: str = ""  #: what was simulated
    step: int = -1  #: training step (set by the caller, -1 = unset)

    def with_step(self, step: int) -> SpotCheck:
        """The same check stamped with training step ``step``."""
        return dataclasses.replace(self, step=int(step))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {"kind": self.kind, "step": self.step, "seconds": self.seconds,
                "metrics": {k: float(v) for k, v in self.metrics.items()},
                "detail": self.detail}


# ---------------------------------------------------------------- argument checks


def _array(value: Any, name: str, ndim: int) -> np.ndarray:
    a = np.asarray(value)
    if a.ndim != ndim or a.size == 0:
        raise SpecError(f"{name}: shape {a.shape}, expected a non-empty {ndim}-D array")
    if a.dtype.kind not in "biuf" or not np.all(np.isfinite(a)):
        raise SpecError(f"{name}: must hold finite numbers (dtype {a.dtype})")
    return a.astype(np.float64)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise SpecError(f"{name}={value!r}: must be an integer >= 1")
    return int(value)


def _check_mac_circuit(sur: MacSurrogate, spec: MacCharSpec) -> None:
    if not isinstance(spec, MacCharSpec):
        raise SpecError(f"spec: expected a MacCharSpec, got {type(spec).__name__}")
    c = spec.circuit
    pairs = {"v_read": c.v_read, "iv_v0": c.iv_v0, "r_row": c.r_row, "r_col": c.r_col,
             "r_foot": c.r_foot, "g_min": c.g_min, "g_max": c.g_max, "t_read": c.t_read,
             "c_row": c.c_row, "c_col": c.c_col}
    bad = [k for k, v in pairs.items() if not np.isclose(getattr(sur, k), v, rtol=1e-9, atol=0)]
    bad += [k for k in ("iv", "encoding", "sensing") if getattr(c, k) != getattr(sur, k)]
    if bad:
        raise SpecError(f"spec: circuit differs from the surrogate's in {', '.join(bad)} "
                        "(pass the spec the surrogate was characterized from)")


def _check_update_spec(sur: UpdateSurrogate, spec: UpdateCharSpec) -> None:
    if not isinstance(spec, UpdateCharSpec):
        raise SpecError(f"spec: expected an UpdateCharSpec, got {type(spec).__name__}")
    ours, theirs = to_mapping(spec), json.loads(sur.spec_json)
    bad = [k for k in ("cell", "t_period") if json.loads(json.dumps(ours[k])) != theirs.get(k)]
    if bad:
        raise SpecError(f"spec: {', '.join(bad)} differ(s) from the surrogate's "
                        "characterization spec (pass the spec it was characterized from)")


# ---------------------------------------------------------------- MAC


def mac_spot_check(sur: MacSurrogate, spec: MacCharSpec, g: np.ndarray, x: np.ndarray, *,
                   rng: np.random.Generator, max_rows: int = 32, max_cols: int = 32,
                   max_reads: int = 4, direction: str = "forward", workers: int = 1,
                   store: Path | str | None = None) -> SpotCheck:
    """Read a random tile of ``g`` (``(n_in, n_out)`` S) with inputs ``x`` in [-1, 1]
    (``(B, n_in)`` forward, ``(B, n_out)`` backward; at most ``max_reads`` of them, drawn with
    ``rng``) in ngspice and compare with the surrogate (see the module docstring)."""
    t0 = time.perf_counter()
    if direction not in DIRECTIONS:
        raise SpecError(f"direction={direction!r}: must be one of {', '.join(DIRECTIONS)}")
    if not isinstance(rng, np.random.Generator):
        raise SpecError(f"rng: expected a numpy Generator, got {type(rng).__name__}")
    max_rows, max_cols = _positive_int(max_rows, "max_rows"), _positive_int(max_cols, "max_cols")
    max_reads = _positive_int(max_reads, "max_reads")
    _check_mac_circuit(sur, spec)
    g = _array(g, "g", 2)
    x = _array(x, "x", 2)
    n_in, n_out = g.shape
    n_drive = n_in if direction == "forward" else n_out
    if x.shape[1] != n_drive:
        raise SpecError(f"x: shape {x.shape}, expected (B, {n_drive}) for a {direction} read "
                        f"of g {g.shape}")
    if np.max(np.abs(x)) > 1.0:
        raise SpecError(f"x: inputs must lie in [-1, 1] (max |x| = {np.max(np.abs(x)):.4g})")
    n = min(max_rows, n_in, sur.tile_rows)
    m = min(max_cols, n_out, sur.tile_cols)
    r0 = int(rng.integers(0, n_in - n + 1))
    c0 = int(rng.integers(0, n_out - m + 1))
    reads = np.sort(rng.choice(len(x), max_reads, replace=False)) if len(x) > max_reads \
        else np.arange(len(x))
    clipped = np.clip(g, sur.g_min, sur.g_max)
    outside = clipped != g
    gt = clipped[r0:r0 + n, c0:c0 + m]
    xt = x[reads][:, r0:r0 + n] if direction == "forward" else x[reads][:, c0:c0 + m]
    point = spec.circuit.testbench(gt, xt, direction)
    res = run_points(mac_point, [point], store=store, workers=workers, scheduler=None,
                     progress=False, desc="spot-check mac")[0]
    model = sur.forward if direction == "forward" else sur.backward
    pred, spice = model(gt, xt), spec.circuit.readout(res)  # the read mode's own output
    ideal = ideal_read(gt, xt, direction, sur.v_read)
    fs = float(np.max(np.abs(ideal))) or 1.0

    def pct(e: np.ndarray) -> tuple[float, float]:
        return 100 * float(np.sqrt(np.mean(e**2))) / fs, 100 * float(np.max(np.abs(e))) / fs

    rms, mx = pct(pred - spice)
    rms_i, mx_i = pct(ideal - spice)
    n_clip = int(outside[r0:r0 + n, c0:c0 + m].sum())
    metrics = {"rms_pct_fs": rms, "max_pct_fs": mx, "ideal_rms_pct_fs": rms_i,
               "ideal_max_pct_fs": mx_i, "fs_A": fs, "rows": float(n), "cols": float(m),
               "row0": float(r0), "col0": float(c0), "reads": float(len(xt)),
               "clipped": float(n_clip), "clipped_layer": float(outside.sum())}
    detail = (f"{n}x{m} tile at rows {r0}:{r0 + n}, cols {c0}:{c0 + m} of g {n_in}x{n_out}, "
              f"{len(xt)} {direction} reads in one deck; surrogate {sur.form}; FS = max|ideal "
              f"G^T V| = {fs:.4g} A; {n_clip} tile cells ({int(outside.sum())} in g) clipped "
              f"to [{sur.g_min:.3g}, {sur.g_max:.3g}] S")
    return SpotCheck("mac", metrics, time.perf_counter() - t0, detail)


# ---------------------------------------------------------------- update


def _check_pulses(pulses: Any, k: int) -> np.ndarray:
    p = np.asarray(pulses)
    if p.ndim != 2 or p.shape[0] != k or p.shape[1] == 0:
        raise SpecError(f"pulses: shape {p.shape}, expected ({k}, P) with P >= 1")
    if p.dtype.kind not in "biuf" or not np.all(np.isin(p, (-1, 0, 1))):
        raise SpecError("pulses: every entry must be -1, 0 or +1")
    p = p.astype(np.int64)
    most = int(np.count_nonzero(p, axis=1).max())
    if most > MAX_PULSES:
        raise SpecError(f"pulses: {most} pulses for one cell, at most {MAX_PULSES}")
    if most == 0:
        raise SpecError("pulses: no cell has a pulse (all entries 0)")
    return p


def update_spot_check(sur: UpdateSurrogate, spec: UpdateCharSpec, vc: np.ndarray,
                      dvt: np.ndarray | None, pulses: np.ndarray, *, workers: int = 1,
                      store: Path | str | None = None) -> SpotCheck:
    """Simulate ``k`` cells from V_C = ``vc`` (``(k,)`` V) with threshold offsets ``dvt``
    (``(k, 3)`` V: dvt_read, dvt_up, dvt_down; ``None`` = nominal cells) under ``pulses``
    (``(k, P)`` in {-1, 0, +1}) in ngspice and compare with the surrogate (module docstring)."""
    t0 = time.perf_counter()
    _check_update_spec(sur, spec)
    vc = _array(vc, "vc", 1)
    k = len(vc)
    vdd = spec.cell.vdd
    if np.any(vc < 0) or np.any(vc > vdd):
        raise SpecError(f"vc: every V_C must lie in [0, cell.vdd={vdd!r}] V")
    if dvt is None:
        offsets = np.zeros((k, 3))
        cells = sur.nominal_cells(k)
    else:
        offsets = _array(dvt, "dvt", 2)
        if offsets.shape != (k, 3):
            raise SpecError(f"dvt: shape {offsets.shape}, expected ({k}, 3) (dvt_read, dvt_up, "
                            "dvt_down per cell)")
        cells = sur.cells_for(offsets[:, 0], offsets[:, 1], offsets[:, 2])
    p = _check_pulses(pulses, k)
    active = np.flatnonzero(np.count_nonzero(p, axis=1))
    points = []
    for i in active:
        cell = dataclasses.replace(spec.cell, vc0=float(vc[i]), dvt_read=float(offsets[i, 0]),
                                   dvt_up=float(offsets[i, 1]), dvt_down=float(offsets[i, 2]))
        seq = "".join("U" if v > 0 else "D" for v in p[i] if v != 0)
        points.append(UpdateTestbenchSpec(cell=cell, pulses=seq, t_period=spec.t_period,
                                          t_hold=UPDATE_HOLD))
    results = run_points(update_point, points, store=store, workers=workers, scheduler=None,
                         progress=False, desc="spot-check update")
    # per pulse: the surrogate from the SPICE V_C before each pulse
    dg_sp, dg_sur = [], []
    for i, res in zip(active, results, strict=True):
        ci = cells[np.full(len(res.kinds), i)]
        before = np.asarray(res.vc[:-1], dtype=np.float64)
        after = sur.pulse(before, res.kinds, ci)
        dg_sur.append(sur.g(after, ci) - sur.g(before, ci))
        dg_sp.append(np.diff(res.g))
    dg_sp_a, dg_sur_a = np.concatenate(dg_sp), np.concatenate(dg_sur)
    # open loop from the trainer's V_C, zeros included (the surrogate leaves them unchanged)
    v = vc.copy()
    for j in range(p.shape[1]):
        v = sur.pulse(v, p[:, j], cells)
    g_end = sur.g(v, cells)[active]
    g_end_sp = np.array([r.g[-1] for r in results])
    vc_end_sp = np.array([r.vc[-1] for r in results])
    g0_err = sur.g(vc, cells)[active] - np.array([r.g[0] for r in results])
    mean_step = max(float(np.mean(np.abs(dg_sp_a))), np.finfo(float).tiny)
    err = dg_sur_a - dg_sp_a
    end_err = g_end - g_end_sp
    rms_end = float(np.sqrt(np.mean(end_err**2)))
    metrics = {
        "dg_rms_pct_mean_step": 100 * float(np.sqrt(np.mean(err**2))) / mean_step,
        "dg_max_uS": 1e6 * float(np.max(np.abs(err))),
        "mean_step_uS": 1e6 * mean_step,
        "final_g_rms_uS": 1e6 * rms_end,
        "final_g_max_uS": 1e6 * float(np.max(np.abs(end_err))),
        "final_g_rms_steps": rms_end / mean_step,
        "final_vc_rms_mV": 1e3 * float(np.sqrt(np.mean((v[active] - vc_end_sp) ** 2))),
        "g0_rms_uS": 1e6 * float(np.sqrt(np.mean(g0_err**2))),
        "cells": float(k), "cells_simulated": float(len(active)),
        "pulses": float(len(dg_sp_a))}
    detail = (f"{len(active)} of {k} cells ({'nominal' if dvt is None else 'given dvt'}) x "
              f"{p.shape[1]} periods, {len(dg_sp_a)} pulses in SPICE (zeros dropped), one "
              f"testbench per cell; dg: surrogate from the SPICE V_C before each pulse, RMS / "
              f"mean |dg| = {1e6 * mean_step:.3g} uS; final g: surrogate open loop from vc")
    return SpotCheck("update", metrics, time.perf_counter() - t0, detail)
