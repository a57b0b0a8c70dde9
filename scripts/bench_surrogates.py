"""Benchmark: one training step of a 784x250 layer with surrogates vs plain float numpy.

A step is a forward read, a backward read and one weight update of the layer, for a batch of
``B`` inputs (B = 1 is per-sample SGD, as in Ambrogio 2018). Plain float (float32, natural
numpy code): ``y = x @ W``, ``e = d @ W.T``, ``W -= lr * x.T @ d``. With surrogates: the MAC
surrogate layer (tiled, IR drop, sinh read) reads forward and backward; the update computes
the same ``x.T @ d``, rounds it to 3T1C pulse counts, applies them to the pulsed cells with the
update surrogate (``pulse_at``, state- and cell-dependent steps), reads their new g (``g_at``)
and feeds the change to the MAC layer (``apply_delta_at``). The surrogate update touches only
the cells that receive a pulse, so its cost depends on the fraction of cells pulsed per step;
the benchmark reports the ratio for several fractions (set through the pulse step) and for the
dense worst case (every cell pulsed). Ratios are of best-of-repeats times in one run.

Read modes (issue 16): ``--read-modes`` times only the forward + backward reads of the layer in
every MAC read mode (``characterize.mac_circuit.READ_MODES``) against plain ``x @ W``,
``d @ W.T`` and against the DC mode's read. The cost of a read depends only on the model's
structure, not on its fitted coefficients, so the unfitted physics surrogate of each mode is
timed (no SPICE).

Usage: ``python scripts/bench_surrogates.py [--quick] [--cache DIR] [--read-modes]``. The
surrogates come from the cache (fitted from SPICE on first use: minutes for the default
specs, ~1 min ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import time

# one BLAS thread for both paths: on 2 cores a threaded BLAS next to any other job makes the
# timings swing by 10x (measured), which says nothing about either path
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from circuitsim.surrogate.cache import SurrogateCache  # noqa: E402
from circuitsim.surrogate.service import Runner, get_surrogate, make_spec  # noqa: E402

N_IN, N_OUT = 784, 250
STEPS = 200
REPEATS = 3
FRACTIONS = (0.005, 0.01, 0.02, 0.05, 1.0)


def best_time(step, steps: int = STEPS, repeats: int = REPEATS) -> float:
    """Best mean seconds per step over ``repeats`` runs of ``steps`` steps."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for k in range(steps):
            step(k)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def make_data(rng: np.random.Generator, batch: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """MNIST-like sparse inputs (~20 % non-zero pixels in (0, 1]) and small errors."""
    xs, ds = [], []
    for _ in range(16):
        x = rng.random((batch, N_IN)) * (rng.random((batch, N_IN)) < 0.2)
        xs.append(x.astype(np.float32))
        ds.append(rng.normal(0.0, 0.1, (batch, N_OUT)).astype(np.float32))
    return xs, ds


def plain_step(xs, ds, lr: float):
    w = np.random.default_rng(0).uniform(-0.1, 0.1, (N_IN, N_OUT)).astype(np.float32)

    def step(k: int) -> None:
        x, d = xs[k % len(xs)], ds[k % len(ds)]
        y = x @ w
        e = d @ w.T
        np.subtract(w, lr * (np.outer(x[0], d[0]) if len(x) == 1 else x.T @ d), out=w)
        del y, e

    return step


def pulse_scale(xs, ds, fraction: float) -> float:
    """1/step such that ``fraction`` of the cells get |rint(x.T d / step)| >= 1 on average."""
    dw = np.concatenate([np.abs(x.T @ d).ravel() for x, d in zip(xs, ds, strict=True)])
    if fraction >= 1.0:
        return 1.0 / max(float(dw[dw > 0].min()), 1e-30) * 1.01
    return 0.5 / float(np.quantile(dw, 1.0 - fraction))


def surrogate_step(mac, upd, xs, ds, scale: float, dense: bool, exact_read: bool):
    rng = np.random.default_rng(1)
    g_pcm = rng.uniform(1e-6, 20e-6, (N_IN, N_OUT))
    cells = upd.sample_cells((N_IN, N_OUT), rng)
    vc = np.full((N_IN, N_OUT), 0.5, np.float32)
    g = upd.g(vc, cells).astype(np.float32)
    layer = mac.layer(g_pcm + g, dtype=np.float32, exact_read=exact_read)
    counts = []

    def step(k: int) -> None:
        x, d = xs[k % len(xs)], ds[k % len(ds)]
        y = layer.forward(x)
        e = layer.backward(d)
        if dense:  # worst case: every cell gets one pulse in the sign of its update
            n = np.where(x.T @ d >= 0, 1, -1).astype(np.int8).ravel()
            idx = np.arange(n.size)
        else:  # pulse coincidence: rows whose input is 0 fire no pulse
            if len(x) == 1:
                rows = np.flatnonzero(x[0])
                dw = np.outer(x[0, rows] * scale, d[0])
            else:
                rows = np.flatnonzero(np.any(x != 0, axis=0))
                dw = x[:, rows].T @ d
                dw *= scale
            loc = np.flatnonzero(np.abs(dw) >= 0.5)
            n = np.rint(dw.ravel()[loc]).astype(np.int16)
            idx = rows[loc // N_OUT] * N_OUT + loc % N_OUT
        upd.pulse_at(vc, idx, n, cells)
        g_new = upd.g_at(vc, idx, cells)
        flat = g.reshape(-1)
        layer.apply_delta_at(idx, g_new - flat[idx])
        flat[idx] = g_new
        counts.append(idx.size)
        del y, e

    return step, counts


def read_modes_table() -> None:
    """Forward + backward reads of the 784x250 layer per read mode (module docstring)."""
    from circuitsim.characterize.mac_circuit import READ_MODES
    from circuitsim.surrogate.mac import physics

    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 20e-6, (N_IN, N_OUT))
    w = g.astype(np.float32)
    print(f"784x250 layer, float32, forward + backward read, best of {REPEATS} x {STEPS}")
    print("| read mode | batch | plain (ms) | exact read (ms) | ratio | fast read (ms) | ratio "
          "| fast / DC fast |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in (1, 32):
        xs, ds = make_data(rng, batch)

        def plain(k: int, xs=xs, ds=ds) -> None:
            _ = xs[k % 16] @ w
            _ = ds[k % 16] @ w.T

        t_plain = best_time(plain)
        dc_fast = None
        for mode in READ_MODES:
            sur = physics(make_spec("mac", read_mode=mode))
            times = []
            for exact in (True, False):
                lay = sur.layer(g, exact_read=exact)

                def read(k: int, lay=lay, xs=xs, ds=ds) -> None:
                    lay.forward(xs[k % 16])
                    lay.backward(ds[k % 16])

                times.append(best_time(read))
            dc_fast = dc_fast or times[1]
            print(f"| {mode} | {batch} | {1e3 * t_plain:.3f} | {1e3 * times[0]:.3f} | "
                  f"{times[0] / t_plain:.2f} | {1e3 * times[1]:.3f} | {times[1] / t_plain:.2f} "
                  f"| {times[1] / dc_fast:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="surrogates of the QUICK specs")
    ap.add_argument("--cache", help="surrogate cache directory")
    ap.add_argument("--read-modes", action="store_true",
                    help="only the read cost of every MAC read mode (no SPICE)")
    args = ap.parse_args()
    if args.read_modes:
        read_modes_table()
        return
    cache = SurrogateCache(args.cache)
    runner = Runner(progress=True)
    mac, _, _ = get_surrogate("mac", make_spec("mac", quick=args.quick), cache=cache,
                              runner=runner)
    upd, _, _ = get_surrogate("update", make_spec("update", quick=args.quick), cache=cache,
                              runner=runner)
    rng = np.random.default_rng(0)
    print(f"784x250 layer, float32, best of {REPEATS} x {STEPS} steps; MAC tiles "
          f"{mac.tile_rows}x{mac.tile_cols}, read model {mac.iv}")
    print("| batch | cells pulsed per step | plain float (ms) | surrogates, exact read (ms) "
          "| ratio | surrogates, fast read (ms) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for batch in (1, 32):
        xs, ds = make_data(rng, batch)
        t_plain = best_time(plain_step(xs, ds, lr=1e-3))
        for fraction in FRACTIONS:
            dense = fraction >= 1.0
            scale = pulse_scale(xs, ds, fraction)
            times = []
            for exact_read in (True, False):
                step, counts = surrogate_step(mac, upd, xs, ds, scale, dense, exact_read)
                times.append(best_time(step))
            pulsed = np.mean(counts) / (N_IN * N_OUT)
            label = "all (dense worst case)" if dense else f"{100 * pulsed:.2f} %"
            print(f"| {batch} | {label} | {1e3 * t_plain:.3f} | {1e3 * times[0]:.3f} | "
                  f"{times[0] / t_plain:.2f} | {1e3 * times[1]:.3f} | "
                  f"{times[1] / t_plain:.2f} |", flush=True)


if __name__ == "__main__":
    main()
