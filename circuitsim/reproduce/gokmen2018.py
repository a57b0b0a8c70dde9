"""Gokmen, Rasch & Haensch 2018: a character-level LSTM trained on resistive pulse devices.

Sweeps (every point one :func:`circuitsim.train.loop.run` of dataset "text", rule "pulse",
float gate activations, the RPU-baseline device and periphery otherwise):

- up/down asymmetry, two readings of "x % asymmetry" (:mod:`circuitsim.train.rpu`: ``beta =
  (dw_up - dw_down) / (dw_up + dw_down)``): a *mean* imbalance ``asymmetry = x / 100`` shared by
  all devices, and a *device-to-device* spread ``asymmetry_d2d = x / 100`` (sigma of ``beta``,
  mean 0: the RPU-baseline reading, where a global imbalance is trimmed by the periphery's
  pulse amplitudes and only the per-device part remains) **[ours: the paper's wording fits
  both]**; 7-bit inputs as the baseline;
- DAC input resolution (``periphery.in_bits`` for forward and backward reads, noise management
  on) with round-to-nearest and with stochastic rounding, asymmetry 0;
- the float baseline (same network, initial weights, order, lr).

Corpus and size [ours, chosen to fit 15 min on 2 cores]: the data module's default corpus
(Python standard-library sources) cut to ``max_chars``, windows of ``seq_len``; ONE LSTM layer
of ``hidden`` units (the paper: 2 x 64) trained for a few epochs with plain SGD.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from circuitsim.plots import save_figure
from circuitsim.reproduce import lstm_sweep
from circuitsim.reproduce.common import Report, mean_std
from circuitsim.spec import build
from circuitsim.train.config import TrainSpec
from circuitsim.train.lstm import bits_per_char

NAME = "gokmen2018"
TITLE = "Gokmen et al. 2018: LSTM training on resistive cross-point devices"
CLAIM = ("A few percent up/down asymmetry of the devices already raises a character LSTM's "
         "test error above floating point, and the array inputs need at least 7 bits "
         "(5 bits with stochastic rounding).")

#: Run sizes: data set arguments and TrainSpec fields.
FULL = {"data": {"max_chars": 100_000, "seq_len": 32},
        "train": {"max_train": 1600, "epochs": 4, "hidden": 32, "batch": 16, "lr": 1.5}}
FAST = {"data": {"max_chars": 12_000, "seq_len": 16},
        "train": {"max_train": 32, "epochs": 1, "hidden": 8, "batch": 16, "lr": 3.0}}
ASYMMETRY = (0, 1, 2, 5, 10)  # percent
ASYM_FIELDS = {"asymmetry": "asymmetry (mean)", "asymmetry_d2d": "asymmetry (device spread)"}
IN_BITS = (3, 4, 5, 6, 7, 8, 0)  # 0 = ideal DAC
BASE_BITS = 7
#: Two losses differ when apart by more than this (nats/char), or by more than 2 run-to-run std
#: (measured on the baseline point with NOISE_SEEDS seeds) / sqrt(seeds), if that is larger.
TOL = 0.03
NOISE_SEEDS = 3
COLUMNS = ["sweep", "setting", "test loss [nats/char]", "bits/char", "seed std",
           "test acc", "vs float [nats]"]


def points(train: dict[str, Any]) -> list[tuple[str, str, float | None, TrainSpec]]:
    """(sweep, setting, x value, spec) of every point (seed 0)."""
    base = build(TrainSpec, {"dataset": "text", "model": "lstm", "rule": "pulse",
                             "act_bits": 0, **train})
    out = [("float", "float weights (SGD)", None, replace(base, rule="float"))]
    for field, sweep in ASYM_FIELDS.items():
        for pct in ASYMMETRY:
            rpu = replace(base.rpu, **{field: pct / 100})
            out.append((sweep, f"{pct} %", float(pct), replace(base, rpu=rpu)))
    for sr in (False, True):
        for bits in IN_BITS:
            if sr and bits == 0:
                continue  # nothing to round
            per = replace(base.periphery, in_bits=bits, stochastic_rounding=sr)
            sweep = "input bits, stochastic rounding" if sr else "input bits"
            out.append((sweep, f"{bits} bit" if bits else "ideal", float(bits),
                        replace(base, periphery=per)))
    return out


def _rows(pts: list, results: list[list[dict]]) -> list[dict[str, Any]]:
    rows = []
    float_loss = mean_std([r["test_loss"] for r in results[0]])[0]
    for (sweep, setting, x, _), res in zip(pts, results, strict=True):
        losses = [r["test_loss"] for r in res]
        m, s = mean_std(losses)
        rows.append({"sweep": sweep, "setting": setting, "x": x,
                     "test loss [nats/char]": m, "bits/char": bits_per_char(m),
                     "seed std": s, "test acc": mean_std([r["test_acc"] for r in res])[0],
                     "vs float [nats]": m - float_loss, "seed losses": losses,
                     "seconds": sum(r["seconds"] for r in res)})
    return rows


def _sweep(rows: list[dict], name: str) -> list[dict]:
    return [r for r in rows if r["sweep"] == name]


def _needed_bits(sweep: list[dict], ideal: dict, tol: float) -> int | None:
    """Fewest input bits from which on every resolution is within tolerance of ideal."""
    finite = sorted((r for r in sweep if r["x"] > 0), key=lambda r: r["x"])
    need = None
    for r in reversed(finite):
        if r["test loss [nats/char]"] > ideal["test loss [nats/char]"] + tol:
            break
        need = int(r["x"])
    return need


def verdict(rows: list[dict], tol: float) -> str:
    """The verdict text; ``tol``: nats/char two losses must differ by."""
    flt = rows[0]
    parts = []
    asym_ok, first = [], []
    for sweep in ASYM_FIELDS.values():
        rs = _sweep(rows, sweep)
        zero = rs[0]
        worse = [r for r in rs[1:] if r["test loss [nats/char]"]
                 > zero["test loss [nats/char]"] + tol]
        asym_ok.append(bool(worse) and worse[0]["x"] <= 5)
        first.append(f"{sweep.split('(')[1].rstrip(')')} from {worse[0]['setting']}" if worse
                     else f"{sweep.split('(')[1].rstrip(')')}: no rise up to 10 %")
        values = ", ".join(f"{r['setting']} {r['test loss [nats/char]']:.3f}" for r in rs)
        rise = (f"worse than 0 % by more than {tol:.2g} from {worse[0]['setting']} on"
                if worse else f"never worse than 0 % by more than {tol:.2g}")
        parts.append(f"{sweep} ({values} nats/char): {rise}")
    det = _sweep(rows, "input bits")
    ideal = next(r for r in det if r["x"] == 0)
    n_det = _needed_bits(det, ideal, tol)
    n_sr = _needed_bits(_sweep(rows, "input bits, stochastic rounding"), ideal, tol)

    def fmt(n: int | None) -> str:
        return "more than 8" if n is None else str(n)

    parts.append(f"input resolution within {tol:.2g} nats/char of an ideal DAC from "
                 f"{fmt(n_det)} bits on with rounding to nearest and {fmt(n_sr)} bits with "
                 f"stochastic rounding (paper: 7 and 5)")
    asym_claim = any(asym_ok)
    bits_claim = n_det == 7 and n_sr == 5
    sr_helps = n_det is not None and n_sr is not None and n_sr < n_det
    bits_word = ("shown (same thresholds)" if bits_claim else
                 "qualitatively shown (stochastic rounding lowers the needed resolution)"
                 if sr_helps else "not shown at these run sizes")
    head = (f"Asymmetry: {'shown' if asym_claim else 'not shown'} ({', '.join(first)}); "
            f"input bits: {bits_word}")
    return (head + f". Float {flt['test loss [nats/char]']:.3f} nats/char; "
            + "; ".join(parts) + ".")


def plot(rows: list[dict], tol: float, path: Path) -> Path:
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    flt = rows[0]["test loss [nats/char]"]
    for sweep, marker in zip(ASYM_FIELDS.values(), "os", strict=True):
        rs = _sweep(rows, sweep)
        ax1.errorbar([r["x"] for r in rs], [r["test loss [nats/char]"] for r in rs],
                     [r["seed std"] for r in rs], marker=marker, label=sweep, capsize=3)
    zero = rows[1]["test loss [nats/char]"]
    ax1.axhspan(zero - tol, zero + tol, color="0.85", label="0 % +- tolerance")
    ax1.axhline(flt, color="k", ls="--", lw=1, label="float")
    ax1.set(xlabel="up/down asymmetry [%]", ylabel="test loss [nats/char]",
            title=f"asymmetry ({BASE_BITS}-bit inputs)")
    ax1.legend(fontsize=8)
    ideal = next(r for r in _sweep(rows, "input bits") if r["x"] == 0)
    for sweep, marker in (("input bits", "o"), ("input bits, stochastic rounding", "s")):
        rs = [r for r in _sweep(rows, sweep) if r["x"] > 0]
        ax2.errorbar([r["x"] for r in rs], [r["test loss [nats/char]"] for r in rs],
                     [r["seed std"] for r in rs], marker=marker, label=sweep, capsize=3)
    y = ideal["test loss [nats/char]"]
    ax2.axhspan(y - tol, y + tol, color="0.85", label="ideal DAC +- tolerance")
    ax2.axhline(y, color="C2", ls=":", lw=1.5, label="ideal DAC")
    ax2.axhline(flt, color="k", ls="--", lw=1, label="float")
    ax2.set_yscale("log")
    ax2.set(xlabel="input DAC bits", ylabel="test loss [nats/char] (log scale)",
            title="input resolution (asymmetry 0)")
    ax2.legend(fontsize=8)
    fig.suptitle("char-LSTM on RPU devices (Gokmen 2018 style)")
    return save_figure(fig, path)


def run(out: Path, *, seeds: int = 1, fast: bool = False, progress: bool = True) -> Report:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = FAST if fast else FULL
    pts = points(cfg["train"])
    baseline = next(spec for sweep, _, x, spec in pts if sweep == "input bits" and x == BASE_BITS)
    results, base_runs = lstm_sweep.run_with_noise(
        [spec for *_, spec in pts], baseline, seeds, NOISE_SEEDS, "text", cfg["data"],
        fast=fast, progress=progress, desc=NAME)
    noise = [r["test_loss"] for r in base_runs]
    run_std, tol = lstm_sweep.tolerance(noise, seeds, TOL)
    rows = _rows(pts, results)
    ds = lstm_sweep.dataset("text", **cfg["data"])
    tr = cfg["train"]
    notes = [
        f"Data: {ds.describe()}; first {tr['max_train']} training windows used; test on all "
        f"{len(ds.x_test)} test windows. Loss = mean cross-entropy per char (ln({ds.n_classes})"
        f" = {math.log(ds.n_classes):.2f} nats for a uniform guess).",
        f"Network: one LSTM layer of {tr['hidden']} units + softmax read-out (paper: 2 x 64), "
        f"{tr['epochs']} epochs, batch {tr['batch']} windows, lr {tr['lr']} (mean loss), "
        f"one pulse update per batch and array; {seeds} seed(s) per point.",
        "Device: RPU baseline (dw_min 0.001, bound 0.6, 30 % d2d/c2c/bound spread, BL 31, "
        "stochastic pulse update); periphery: noise management, 9-bit output ADC, bound 12; "
        f"{BASE_BITS}-bit inputs unless swept; gate activations float.",
        "'x % asymmetry': mean = every device's beta = x/100 (dw_up/dw_down = (1+b)/(1-b)); "
        "device spread = beta ~ N(0, (x/100)^2) per device.",
        f"Run-to-run noise: the baseline ({BASE_BITS}-bit, asymmetry 0) with seeds 0-"
        f"{len(noise) - 1}: " + ", ".join(f"{v:.3f}" for v in noise) + f" nats/char (std "
        f"{run_std:.3f}); two points differ when apart by more than {tol:.3f} nats/char "
        f"(max of {TOL} and 2 std / sqrt(seeds)).",
    ]
    report = Report(NAME, TITLE, CLAIM, COLUMNS, rows, verdict(rows, tol), notes,
                    [plot(rows, tol, out / f"{NAME}.png")], fast=fast)
    report.seconds = time.perf_counter() - t0
    report.write(out)
    return report
