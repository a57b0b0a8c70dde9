"""Validating the MAC surrogate against held-out SPICE reads (:func:`validate`): per tile
size and direction and for a layer split into tiles, errors in % of full scale."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from circuitsim.characterize import mac as cm
from circuitsim.fidelity import Check
from circuitsim.surrogate.mac import MacSurrogate
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


def validate(sur: MacSurrogate, spec: cm.MacCharSpec, *, store: Path | str | None = None,
             workers: int | None = None, scheduler: str | None = None,
             progress: bool = True) -> MacValidation:
    """Held-out SPICE runs never used in fitting: every ``val_tiles`` size with every
    ``val_patterns`` matrix, and the ``layer`` split into tiles (each its own SPICE array, the
    partial sums added), drawn from ``val_seed`` on the validation stream; forward and
    backward. Checks per group: surrogate RMS error (bound 1 % FS) and max error, and for
    comparison the ideal-model and first-order-physics RMS errors (their max in the detail)."""

    tiles = cm.plan(spec, spec.val_tile_list, spec.val_pattern_list, spec.val_seed,
                    cm.STREAM_VAL)
    layer = _layer_plan(spec, sur) if spec.layer else None
    all_decks = tiles + (layer[2] if layer else [])
    t0 = time.perf_counter()
    results = cm.run_decks(all_decks, store=store, workers=workers, scheduler=scheduler,
                           progress=progress, desc="validate mac")
    seconds = time.perf_counter() - t0
    first = sur.with_form("first_order")
    rows: dict[str, list[np.ndarray]] = {}

    def add(label: str, ideal: np.ndarray, spice: np.ndarray, g: np.ndarray, x: np.ndarray,
            direction: str) -> None:
        model = sur.forward if direction == "forward" else sur.backward
        model1 = first.forward if direction == "forward" else first.backward
        pos = np.broadcast_to(np.linspace(0.0, 1.0, ideal.shape[1]), ideal.shape)
        rows.setdefault(label, []).append(np.stack([
            ideal.ravel(), spice.ravel(), model(g, x).ravel(), model1(g, x).ravel(),
            pos.ravel(), model(g, x, exact_read=False).ravel()]))

    for dk, res in zip(tiles, results[:len(tiles)], strict=True):
        add(f"{dk.rows}x{dk.cols} {dk.direction}", res.ideal_currents, res.currents, dk.g,
            dk.x, dk.direction)
    if layer:
        g, inputs, ldecks, places = layer
        for direction in cm.DIRECTIONS:
            x = inputs[direction]
            total = np.zeros((len(x), g.shape[1] if direction == "forward" else g.shape[0]))
            for dk, res, place in zip(ldecks, results[len(tiles):], places, strict=True):
                if dk.direction == direction:
                    total[:, place] += res.currents
            ideal = sur.v_read * (x @ g if direction == "forward" else x @ g.T)
            add(f"layer {g.shape[0]}x{g.shape[1]} {direction}", ideal, total, g, x, direction)
    return _summarize(sur, rows, seconds)


def _summarize(sur: MacSurrogate, rows: dict[str, list[np.ndarray]],
               seconds: float) -> MacValidation:
    checks: list[Check] = []
    labels = list(rows)
    fs_all, cols = [], []
    for k, label in enumerate(labels):
        ideal, spice, pred, pred1, pos, fast = np.concatenate(rows[label], axis=1)
        fs = float(np.max(np.abs(ideal))) or 1.0
        fs_all.append(fs)
        cols.append(np.stack([np.full(ideal.size, k), pos, ideal, spice, pred, pred1]))

        def stat(e: np.ndarray, fs: float = fs) -> tuple[float, float]:
            return 100 * float(np.sqrt(np.mean(e**2))) / fs, 100 * float(np.max(np.abs(e))) / fs

        rms, mx = stat(pred - spice)
        rms_i, mx_i = stat(ideal - spice)
        rms_1, mx_1 = stat(pred1 - spice)
        rms_f, mx_f = stat(fast - spice)
        base = (f"held-out SPICE, {ideal.size} outputs; FS = max|ideal G^T V| over them = "
                f"{fs:.4g} A")
        checks += [
            Check(f"mac {label} RMS error", rms, "% FS", 1.0,
                  detail=f"surrogate ({sur.form}) vs {base}"),
            Check(f"mac {label} max error", mx, "% FS", detail=f"surrogate ({sur.form})"),
            Check(f"mac {label} fast-read RMS error", rms_f, "% FS", 1.0,
                  detail=f"layer(exact_read=False): one matrix product per read; max "
                         f"{mx_f:.3g} % FS"),
            Check(f"mac {label} ideal-model RMS error", rms_i, "% FS",
                  detail=f"ideal G^T V vs SPICE; max {mx_i:.3g} % FS"),
            Check(f"mac {label} first-order RMS error", rms_1, "% FS",
                  detail=f"first-order physics (sinh input) vs SPICE; max {mx_1:.3g} % FS"),
        ]
    data = np.concatenate(cols, axis=1)
    return MacValidation(checks=checks, form=sur.form, groups=np.array(labels),
                         full_scale=np.array(fs_all), group=data[0].astype(np.int64),
                         position=data[1], ideal=data[2], spice=data[3], surrogate=data[4],
                         first_order=data[5], seconds=seconds)
