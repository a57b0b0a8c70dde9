"""Training throughput with surrogates against float numpy training of the same network.

For each network (the digits MLP 64-32-10; the MNIST-sized 784-250-10 on random images), batch
size (1: per-image SGD as in the papers; 16) and rule, trains the same images with the same
loop (``circuitsim.train``) and
reports images per second of the training loop (model building and evaluation excluded) and
the ratio to the float rule, all in one run, one BLAS thread, best of ``--repeat`` passes.
The analog rules read every MAC through the MAC surrogate with DAC/ADC periphery, the hidden
activation through the 4-bit ramp-ADC table, and update through their device model (the
3T1C update surrogate for 2PCM+3T1C).

    python scripts/bench_train.py [--images N] [--repeat R]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from threadpoolctl import threadpool_limits

from circuitsim.spec import build
from circuitsim.train import data, loop
from circuitsim.train.config import TrainSpec

RULES = ("float", "ambrogio", "pulse", "sbp", "pcm")


def _mnist_like(n: int) -> data.Dataset:
    rng = np.random.default_rng(0)
    x = (rng.random((n, 784)) < 0.19).astype(np.float32) * rng.random((n, 784), np.float32)
    y = rng.integers(0, 10, n)
    return data.Dataset("mnist-like", "vector", x, y, x[:64], y[:64], 10,
                        source="random sparse 28x28 images (19 % non-zero, like MNIST)")


def bench(ds: data.Dataset, hidden: int, images: int, repeat: int, label: str,
          batch: int) -> None:
    print(f"\n{label}: {ds.x_train.shape[1]}-{hidden}-{ds.n_classes}, {images} images per "
          f"pass, batch {batch}, best of {repeat}")
    print(f"{'rule':10s} {'images/s':>10s} {'vs float':>9s}")
    base = None
    for rule in RULES:
        spec = build(TrainSpec, {"dataset": "digits", "rule": rule, "hidden": hidden,
                                 "epochs": 1, "max_train": images, "batch": batch})
        sur = loop.load_surrogates(spec)
        best = min(loop.run(spec, ds=ds, sur=sur, progress=False).history[0]["train_seconds"]
                   for _ in range(repeat))
        rate = images / best
        base = base or rate
        print(f"{rule:10s} {rate:10.0f} {rate / base:9.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1437)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with threadpool_limits(1):
        digits = data.load("digits")
        digits = dataclasses.replace(digits, x_test=digits.x_test[:64],
                                     y_test=digits.y_test[:64])
        mnist = _mnist_like(args.images)
        for batch in (1, 16):
            bench(digits, 32, min(args.images, len(digits.y_train)), args.repeat, "digits MLP",
                  batch)
            bench(mnist, 250, args.images, args.repeat, "MNIST-sized MLP", batch)


if __name__ == "__main__":
    main()
