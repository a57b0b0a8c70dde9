"""Throughput of a grid of training runs: 1 local worker vs N, and through a Dask scheduler.

The same grid (``--runs`` seeds of one TrainSpec, default: 2PCM+3T1C on the digits MLP,
``--epochs`` epochs) runs into a fresh run store each time, so nothing is read back; the
figure is runs per minute of wall time and the ratio to one worker. With ``--scheduler``
(e.g. a ``dask scheduler`` + ``dask worker`` pair started on this machine) the grid runs once
more as Dask tasks. Timings on a shared machine are upper bounds; the ratio of one run is the
figure that counts.

    python scripts/bench_grid.py [--runs 8] [--epochs 3] [--workers 2] [--scheduler ADDR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from circuitsim.reproduce.grid import plan, run_grid, seeds_of
from circuitsim.spec import build
from circuitsim.train.config import TrainSpec


def timed(specs: list, store: Path, **kwargs: object) -> float:
    t0 = time.perf_counter()
    res = run_grid(specs, specs[0].dataset, store=store, progress=False, **kwargs)
    assert res.trained == len(specs), res.summary()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rule", default="ambrogio")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", help="Dask scheduler address (also timed)")
    args = ap.parse_args()
    spec = build(TrainSpec, {"dataset": "digits", "rule": args.rule, "epochs": args.epochs})
    specs = seeds_of(spec, args.runs)
    plan(specs, "digits")  # surrogates into the cache before timing
    with tempfile.TemporaryDirectory() as tmp:
        rows = [("1 local worker", timed(specs, Path(tmp) / "w1", workers=1)),
                (f"{args.workers} local workers",
                 timed(specs, Path(tmp) / "wn", workers=args.workers))]
        if args.scheduler:
            rows.append((f"Dask scheduler {args.scheduler}",
                         timed(specs, Path(tmp) / "dask", scheduler=args.scheduler)))
    print(f"grid: {args.runs} runs of digits {args.rule}, {args.epochs} epochs")
    base = rows[0][1]
    for name, sec in rows:
        print(f"{name:>40}: {sec:6.1f} s, {60 * args.runs / sec:5.1f} runs/min, "
              f"throughput x{base / sec:.2f}")


if __name__ == "__main__":
    main()
