"""Validating the MAC surrogate against held-out SPICE reads (:func:`validate`): per tile
size and direction, for a layer split into tiles, and for the stress cases that break DC
models (the same surrogate read at the stress circuit's timing), errors in % of full scale.
Check names carry the read mode (:func:`~circuitsim.characterize.mac_circuit.mode_name`;
none for the DC mode), so several modes' rows form groups in one table."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from circuitsim.characterize import mac as cm
from circuitsim.characterize.mac_circuit import mode_name
from circuitsim.fidelity import Check
from circuitsim.surrogate.mac import MacSurrogate, circuit_fields
from circuitsim.surrogate.mac_layer import split


@dataclass(frozen=True, slots=True, eq=False)
class MacValidation:
    """Held-out SPICE reads against the surrogate. ``S`` outputs in all, in ``K`` groups
    (``"<rows>x<cols> <direction>"`` for tiles, ``"layer <rows>x<cols> <direction>"``)."""

    checks: list[Check]
    form: str  #: the surrogate's model form
    groups: np.ndarray  #: (K,) str
    full_scale: np.ndarray  #: (K,) A, max |ideal| over the group's held-out reads
    group: np.ndarray  #: (S,) int, group of each output
    position: np.ndarray  #: (S,) sensed-line position, 0 = first line, 1 = last line
    ideal: np.ndarray  #: (S,) A, ideal G^T V
    spice: np.ndarray  #: (S,) A, SPICE
    surrogate: np.ndarray  #: (S,) A, surrogate
    first_order: np.ndarray  #: (S,) A, first-order physics model (sinh input transform)
    seconds: float  #: wall time of the held-out SPICE runs
    mode: str = "dc"  #: the read mode


def _layer_plan(spec: cm.MacCharSpec, sur: MacSurrogate) -> tuple[
        np.ndarray, dict[str, np.ndarray], list[cm.Deck], list[slice]]:
    """The held-out layer: its matrix, its inputs per direction, one deck per tile and
    direction, and where each tile's sensed lines sit in the layer."""
    rows, cols, n_vec = (int(v) for v in spec.layer)
    g = cm.draw_conductances(spec, "dense", rows, cols,
                             cm.stream(spec.val_seed, cm.STREAM_VAL, rows, cols, "dense", 0))
    inputs, decks, places = {}, [], []
    for d, direction in enumerate(cm.DIRECTIONS):
        n = rows if direction == "forward" else cols
        x, kinds = cm.draw_inputs(spec, n_vec, n, cm.stream(spec.val_seed, cm.STREAM_VAL, rows,
                                                            cols, "dense", 1 + d))
        inputs[direction] = x
        for rs in split(rows, sur.tile_rows):
            for cs in split(cols, sur.tile_cols):
                gt = g[rs, cs]
                xt = x[:, rs] if direction == "forward" else x[:, cs]
                decks.append(cm.Deck(gt.shape[0], gt.shape[1], "dense", direction, gt, xt,
                                     kinds, spec.circuit.testbench(gt, xt, direction)))
                places.append(cs if direction == "forward" else rs)
    return g, inputs, decks, places


def check_mode(check: Check) -> str:
    """The read mode a MAC check belongs to (its name's second word, else ``dc``): the row
    group of ``circuitsim surrogate validate mac``'s table."""
    from circuitsim.characterize.mac_circuit import READ_MODES

    words = check.name.split()
    return words[1] if len(words) > 1 and words[1] in READ_MODES else "dc"


def _stress_plan(spec: cm.MacCharSpec) -> list[tuple[str, cm.MacCircuit, list[cm.Deck]]]:
    """The stress cases: each circuit's decks on ``stress_tile`` (dense, both directions)."""
    if not spec.stress_tile:
        return []
    out = []
    for name, circuit in spec.stress_circuits():
        decks = cm.plan(spec, [tuple(int(v) for v in spec.stress_tile)], ("dense",),
                        spec.val_seed, cm.STREAM_VAL)
        out.append((name, circuit, [replace(d, point=circuit.testbench(d.g, d.x, d.direction))
                                    for d in decks]))
    return out


def validate(sur: MacSurrogate, spec: cm.MacCharSpec, *, store: Path | str | None = None,
             workers: int | None = None, scheduler: str | None = None,
             progress: bool = True) -> MacValidation:
    """Held-out SPICE runs never used in fitting: every ``val_tiles`` size with every
    ``val_patterns`` matrix, and the ``layer`` split into tiles (each its own SPICE array, the
    partial sums added), drawn from ``val_seed`` on the validation stream; forward and
    backward; then the ``stress`` cases on ``stress_tile``, read by the same surrogate at the
    stress circuit's timing. Checks per group: surrogate RMS error (bound 1 % FS) and max
    error, and for comparison the ideal-model, first-order-physics and (time-domain modes) DC-
    model RMS errors (their max in the detail); per mode, the energy per read against the
    drivers' SPICE energy."""

    tiles = cm.plan(spec, spec.val_tile_list, spec.val_pattern_list, spec.val_seed,
                    cm.STREAM_VAL)
    layer = _layer_plan(spec, sur) if spec.layer else None
    stress = _stress_plan(spec)
    all_decks = tiles + (layer[2] if layer else []) + [d for _, _, ds in stress for d in ds]
    t0 = time.perf_counter()
    results = cm.run_decks(all_decks, store=store, workers=workers, scheduler=scheduler,
                           progress=progress, desc="validate mac")
    seconds = time.perf_counter() - t0
    mode = mode_name(spec.circuit)
    prefix = "" if mode == "dc" else f"{mode} "
    rows: dict[str, list[np.ndarray]] = {}
    energy: list[tuple[float, float]] = []

    def add(label: str, model: MacSurrogate, spice: np.ndarray, g: np.ndarray, x: np.ndarray,
            direction: str) -> None:
        ideal = cm.ideal_read(g, x, direction, model.v_read)
        first = model.with_form("first_order")
        dc = replace(model, timed=0)
        read = [(m.forward if direction == "forward" else m.backward) for m in (model, first, dc)]
        pos = np.broadcast_to(np.linspace(0.0, 1.0, ideal.shape[1]), ideal.shape)
        rows.setdefault(prefix + label, []).append(np.stack([
            ideal.ravel(), spice.ravel(), read[0](g, x).ravel(), read[1](g, x).ravel(),
            pos.ravel(), read[0](g, x, exact_read=False).ravel(), read[2](g, x).ravel()]))

    for dk, res in zip(tiles, results[:len(tiles)], strict=True):
        add(f"{dk.rows}x{dk.cols} {dk.direction}", sur, spec.circuit.readout(res), dk.g, dk.x,
            dk.direction)
        energy.append((float(res.energy.sum()),
                       float(sur.read_energy(dk.g, dk.x, dk.direction).sum())))
    k = len(tiles)
    if layer:
        g, inputs, ldecks, places = layer
        for direction in cm.DIRECTIONS:
            x = inputs[direction]
            total = np.zeros((len(x), g.shape[1] if direction == "forward" else g.shape[0]))
            for dk, res, place in zip(ldecks, results[k:k + len(ldecks)], places, strict=True):
                if dk.direction == direction:
                    total[:, place] += spec.circuit.readout(res)
            add(f"layer {g.shape[0]}x{g.shape[1]} {direction}", sur, total, g, x, direction)
        k += len(ldecks)
    for name, circuit, decks in stress:
        model = replace(sur, **circuit_fields(circuit))
        for dk, res in zip(decks, results[k:k + len(decks)], strict=True):
            add(f"{name} {dk.rows}x{dk.cols} {dk.direction}", model, circuit.readout(res),
                dk.g, dk.x, dk.direction)
        k += len(decks)
    val = _summarize(sur, rows, seconds)
    spice_e, model_e = (sum(v) for v in zip(*energy, strict=True))
    val.checks.append(Check(
        f"mac {prefix}energy per read error", 100 * abs(model_e / spice_e - 1), "%",
        detail=f"surrogate read_energy vs SPICE driver energy over the held-out tiles; "
               f"SPICE mean {spice_e / max(1, sum(len(d.x) for d in tiles)):.4g} J per read, "
               f"latency {sur.t_window:.4g} s per read"))
    return replace(val, mode=mode)


def _summarize(sur: MacSurrogate, rows: dict[str, list[np.ndarray]],
               seconds: float) -> MacValidation:
    checks: list[Check] = []
    labels = list(rows)
    fs_all, cols = [], []
    for k, label in enumerate(labels):
        ideal, spice, pred, pred1, pos, fast, dc = np.concatenate(rows[label], axis=1)
        fs = float(np.max(np.abs(ideal))) or 1.0
        fs_all.append(fs)
        cols.append(np.stack([np.full(ideal.size, k), pos, ideal, spice, pred, pred1]))

        def stat(e: np.ndarray, fs: float = fs) -> tuple[float, float]:
            return 100 * float(np.sqrt(np.mean(e**2))) / fs, 100 * float(np.max(np.abs(e))) / fs

        rms, mx = stat(pred - spice)
        rms_i, mx_i = stat(ideal - spice)
        rms_1, mx_1 = stat(pred1 - spice)
        rms_f, mx_f = stat(fast - spice)
        rms_d, mx_d = stat(dc - spice)
        base = (f"held-out SPICE, {ideal.size} outputs; FS = max|ideal G^T V| over them = "
                f"{fs:.4g} A")
        checks += [
            Check(f"mac {label} RMS error", rms, "% FS", 1.0,
                  detail=f"surrogate ({sur.form}{'+timed' if sur.timed else ''}) vs {base}"),
            Check(f"mac {label} max error", mx, "% FS", detail=f"surrogate ({sur.form})"),
            Check(f"mac {label} fast-read RMS error", rms_f, "% FS", 1.0,
                  detail=f"layer(exact_read=False): one matrix product per read; max "
                         f"{mx_f:.3g} % FS"),
            Check(f"mac {label} ideal-model RMS error", rms_i, "% FS",
                  detail=f"ideal G^T V vs SPICE; max {mx_i:.3g} % FS"),
            Check(f"mac {label} first-order RMS error", rms_1, "% FS",
                  detail=f"first-order physics (sinh input) vs SPICE; max {mx_1:.3g} % FS"),
        ]
        if np.any(dc != pred):
            checks.append(Check(f"mac {label} DC-model RMS error", rms_d, "% FS",
                                detail=f"the same fit without time-domain terms (wire "
                                       f"settling, droop, gain); max {mx_d:.3g} % FS"))
    data = np.concatenate(cols, axis=1)
    return MacValidation(checks=checks, form=sur.form, groups=np.array(labels),
                         full_scale=np.array(fs_all), group=data[0].astype(np.int64),
                         position=data[1], ideal=data[2], spice=data[3], surrogate=data[4],
                         first_order=data[5], seconds=seconds)
