"""What a run store holds of the gokmen2018 grid, without training: per point the finished
seeds, their test loss (mean, 95 % interval, per seed) and the paired difference from the
point's reference (0 % asymmetry, ideal DAC) over the seeds both have finished.

For a grid that outlives a working session (``--scale paper``, ~18 h on 2 cores): the partial
figures the README quotes come from this script on ``results/gokmen2018-paper/store``. It
plans the grid as ``reproduce`` does (same keys: spec, data hash, surrogate keys, ngspice
version, training-code fingerprint), so run it from the commit whose training code wrote the
records. The verdict itself waits for the whole grid (``circuitsim reproduce gokmen2018``).

    python scripts/gok_status.py [--store results/gokmen2018-paper/store] [--scale paper]
                                 [--seeds 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from circuitsim.reproduce import gokmen2018, stats
from circuitsim.reproduce.grid import plan, seeds_of, train_run
from circuitsim.spice.ngspice import ngspice_version
from circuitsim.store import ResultStore, point_key

Point = tuple[str, str, float | None, dict[int, float]]


def finished(store: ResultStore, scale: str, seeds: int) -> tuple[list[Point], int, int]:
    """(sweep, setting, x, {seed: final test loss}) of every point of the grid, and how many
    distinct runs the grid has and the store holds."""
    cfg = gokmen2018.SCALES[scale]
    ver = ngspice_version()
    pts = gokmen2018.points(cfg)
    runs = plan([s for *_, spec in pts for s in seeds_of(spec, seeds)], "text", cfg["data"])
    keys = [point_key(train_run, p, ver) for p in runs]
    loss = {k: store.load(k).final_loss for k in set(keys) if store.has(k)}
    out = []
    for n, (sweep, setting, x, _) in enumerate(pts):
        mine = zip(runs[n * seeds:(n + 1) * seeds], keys[n * seeds:(n + 1) * seeds], strict=True)
        out.append((sweep, setting, x, {p.spec.seed: loss[k] for p, k in mine if k in loss}))
    return out, len(set(keys)), len(loss)


def table(points: list[Point]) -> list[str]:
    """Markdown rows: sweep, setting, n, mean [CI], vs reference over common seeds, per seed."""
    by = {(sweep, x): vals for sweep, _, x, vals in points}
    lines = ["| sweep | setting | n | test loss [nats/char] | vs reference (common seeds) "
             "| per seed |", "|---|---|---|---|---|---|"]
    for sweep, setting, x, vals in points:
        loss = _text(stats.t_interval(list(vals.values()))) if vals else "—"
        ref = gokmen2018.reference(sweep)
        diff = "—"
        if ref is not None and ref != (sweep, x):
            common = sorted(set(vals) & set(by.get(ref, {})))
            if common:
                diff = _text(stats.paired([vals[s] for s in common],
                                          [by[ref][s] for s in common]), sign=True)
        per = ", ".join(f"{s}: {v:.3f}" for s, v in sorted(vals.items()))
        lines.append(f"| {sweep} | {setting} | {len(vals)} | {loss} | {diff} | {per} |")
    return lines


def _text(iv: stats.Interval, sign: bool = False) -> str:
    """Mean [95 % CI] (with ``sign``, a difference: and n); a single value alone."""
    if iv.n == 1:
        return f"{iv.mean:{'+' if sign else ''}.3f} (one seed)"
    return iv.text(digits=3, sign=sign) + (f" (n = {iv.n})" if sign else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, default=Path("results/gokmen2018-paper/store"))
    ap.add_argument("--scale", choices=sorted(gokmen2018.SCALES), default="paper")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error(f"--seeds {args.seeds}: must be >= 1")
    if not args.store.is_dir():
        ap.error(f"--store {str(args.store)!r}: not a directory")
    points, runs, done = finished(ResultStore(args.store), args.scale, args.seeds)
    print(f"{done} of {runs} runs finished ({len(points)} points x {args.seeds} seeds, "
          "identical points run once)")
    print("\n".join(table(points)))


if __name__ == "__main__":
    main()
