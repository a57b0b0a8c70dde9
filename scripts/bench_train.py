"""Training throughput with surrogates against float numpy training of the same network.

For each network (the digits MLP 64-32-10; the Ambrogio-lineage MNIST MLP 784-250-125-10 on
Fashion-MNIST images, or random MNIST-like images where the package is missing; the MNIST-1D
LSTM), batch size (1: per-image SGD as in the papers; 16) and rule, trains the same images
with the same loop (``circuitsim.train``) and reports images (sequences) per second of the
training loop (model building and evaluation excluded) and the ratio to the float rule, all in
one run, one BLAS thread, best of ``--repeat`` passes, timed by the training thread's CPU
time (``--wall``: wall clock). 2PCM+3T1C runs twice: with the
compiled kernels (the default engine) and with the numpy reference (``ambrogio/np``). The
analog rules read every MAC through the MAC surrogate with DAC/ADC periphery, the hidden
activation through the 4-bit ramp-ADC table, and update through their device model (the 3T1C
update surrogate for 2PCM+3T1C). Also reports the kernels' compile time (empty disk cache, a
fresh process) and their load time from the disk cache.

    python scripts/bench_train.py [--images N] [--repeat R] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile

import numpy as np
from threadpoolctl import threadpool_limits

from circuitsim.errors import SpecError
from circuitsim.spec import build
from circuitsim.train import data, loop
from circuitsim.train.config import TrainSpec

#: The training loop's CPU time of its (one) thread: on a machine shared with other jobs the
#: wall time measures the load as much as the work (--wall selects it).
CLOCK = "train_cpu_seconds"
RULES = ("float", "ambrogio", "ambrogio/np", "pulse", "sbp", "pcm")
LSTM_RULES = ("float", "ambrogio", "pulse", "pcm")


def _mnist_sized(n: int) -> data.Dataset:
    try:
        ds = data.load("fashion-mnist")
        return dataclasses.replace(ds, x_train=ds.x_train[:n], y_train=ds.y_train[:n],
                                   x_test=ds.x_test[:64], y_test=ds.y_test[:64])
    except SpecError:
        rng = np.random.default_rng(0)
        x = (rng.random((n, 784)) < 0.19).astype(np.float32) * rng.random((n, 784), np.float32)
        y = rng.integers(0, 10, n)
        return data.Dataset("mnist-like", "vector", x, y, x[:64], y[:64], 10,
                            source="random sparse 28x28 images (19 % non-zero, like MNIST)")


def bench(ds: data.Dataset, dataset: str, shape: dict, images: int, repeat: int, label: str,
          batch: int, rules: tuple[str, ...], clock: str = CLOCK) -> None:
    print(f"\n{label}, {images} samples per pass, batch {batch}, best of {repeat}")
    print(f"{'rule':12s} {'samples/s':>10s} {'vs float':>9s}")
    base = None
    for name in rules:
        rule, _, eng = name.partition("/")
        spec = build(TrainSpec, {"dataset": dataset, "rule": rule, **shape, "epochs": 1,
                                 "max_train": images, "batch": batch,
                                 "engine": "numpy" if eng else "numba"})
        sur = loop.load_surrogates(spec)
        best = min(loop.run(spec, ds=ds, sur=sur, progress=False).history[0][clock]
                   for _ in range(repeat))
        rate = images / best
        base = base or rate
        print(f"{name:12s} {rate:10.0f} {rate / base:9.2f}x", flush=True)


def compile_times() -> None:
    """Kernel compile time with an empty numba cache, then the load time from that cache."""
    code = "from circuitsim.train import kernels; print(f'{kernels.warm_up():.2f}')"
    # a fresh process per measurement: warm_up() runs once per process
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold, warm = (subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                     capture_output=True, text=True).stdout.strip()
                      for _ in range(2))
    print(f"compiled kernels: {cold} s to compile (empty cache), {warm} s to load from the "
          "disk cache")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1437)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="batch 1 only, no LSTM")
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of the "
                                                        "thread's CPU time")
    args = ap.parse_args()
    clock = "train_seconds" if args.wall else CLOCK
    compile_times()
    with threadpool_limits(1):
        digits = data.load("digits")
        digits = dataclasses.replace(digits, x_test=digits.x_test[:64],
                                     y_test=digits.y_test[:64])
        big = _mnist_sized(args.images)
        n_digits = min(args.images, len(digits.y_train))
        for batch in (1,) if args.quick else (1, 16):
            bench(digits, "digits", {"hidden": 32}, n_digits, args.repeat,
                  "digits MLP 64-32-10", batch, RULES, clock)
            bench(big, "fashion-mnist", {"layers": [250, 125]}, args.images, args.repeat,
                  f"MLP 784-250-125-10 ({big.name})", batch, RULES, clock)
        if not args.quick:
            seq = data.load("mnist1d-seq")
            seq = dataclasses.replace(seq, x_test=seq.x_test[:64], y_test=seq.y_test[:64])
            bench(seq, "mnist1d-seq", {"model": "lstm"}, min(400, args.images), args.repeat,
                  "MNIST-1D LSTM (40 steps, 32 hidden)", 1, LSTM_RULES, clock)


if __name__ == "__main__":
    main()
