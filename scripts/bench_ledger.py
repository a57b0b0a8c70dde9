"""What the energy ledger costs a training run: the same runs with the ledger on and off.

For the digits MLP 64-32-10 and the Ambrogio-lineage MLP 784-250-125-10 (Fashion-MNIST
images, or random MNIST-like ones where the package is missing), at batch 1 and 16, for the
2PCM+3T1C and the pulse rule: the training loop's CPU time (one thread, one BLAS thread) with
``ledger.enabled`` true and false, passes interleaved, best of ``--repeat``, and their ratio.
The counting is in the loop; pricing (SPICE decks, read from the sweep store after the first
run) happens once at the end of a run and is reported as its own wall time.

    python scripts/bench_ledger.py [--images N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import CLOCK, _mnist_sized  # noqa: E402

from circuitsim.spec import build  # noqa: E402
from circuitsim.train import data, loop  # noqa: E402
from circuitsim.train.config import TrainSpec  # noqa: E402


def bench(ds: data.Dataset, dataset: str, shape: dict, images: int, repeat: int, label: str,
          batch: int) -> None:
    print(f"\n{label}, {images} images per pass, batch {batch}, best of {repeat}")
    print(f"{'rule':10s} {'off s':>8s} {'on s':>8s} {'on/off':>7s} {'pricing s':>10s}")
    for rule in ("ambrogio", "pulse"):
        specs = {on: build(TrainSpec, {"dataset": dataset, "rule": rule, **shape, "epochs": 1,
                                       "max_train": images, "batch": batch,
                                       "ledger": {"enabled": on}}) for on in (False, True)}
        sur = loop.load_surrogates(specs[True])
        best = {False: float("inf"), True: float("inf")}
        wall = {False: 0.0, True: 0.0}
        for _ in range(repeat):
            for on in (False, True):
                t0 = time.perf_counter()
                res = loop.run(specs[on], ds=ds, sur=sur, progress=False)
                wall[on] = time.perf_counter() - t0 - res.history[0]["train_seconds"]
                best[on] = min(best[on], res.history[0][CLOCK])
        # outside the epochs, what the ledger-on run spent beyond the ledger-off run
        pricing = wall[True] - wall[False]
        print(f"{rule:10s} {best[False]:8.3f} {best[True]:8.3f} "
              f"{best[True] / best[False]:7.3f} {pricing:10.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        digits = data.load("digits")
        for batch in (1, 16):
            bench(digits, "digits", {}, min(args.images, len(digits.x_train)), args.repeat,
                  "digits 64-32-10", batch)
        big = _mnist_sized(args.images)
        for batch in (1, 16):
            bench(big, "fashion-mnist", {"layers": [250, 125]}, args.images, args.repeat,
                  f"784-250-125-10 ({big.name})", batch)


if __name__ == "__main__":
    main()
