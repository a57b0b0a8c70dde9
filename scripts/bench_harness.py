#!/usr/bin/env python3
"""Benchmark the simulation harness against the plain alternative, in one run (ratios).

1. 200 small update-phase decks: the harness (libngspice in a pool worker) vs one
   ``ngspice -b`` process per deck, both one at a time (same parallelism).
2. One 128x128 MAC deck: harness wall time vs plain ``ngspice -b`` on the same deck.
3. A sweep of update points on 2 workers vs 1 worker: throughput ratio.
4. Peak memory of one worker over 1,000 runs, with recycling (every 100 runs) and without.

Usage: .venv/bin/python scripts/bench_harness.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from circuitsim.netlist import tb_mac, tb_update
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.phases import MacPoint, mac_point
from circuitsim.spice.ngspice import ngspice_executable, ngspice_version
from circuitsim.spice.pool import WorkerPool
from circuitsim.spice.runner import SimOptions, simulate
from circuitsim.sweep import sweep


def small_decks(n: int) -> list[str]:
    """n distinct small update decks (2-6 pulses, 1 us hold)."""
    patterns = ["UD", "UU", "DD", "UDU", "DUD", "UUD", "DDU", "UUDD", "DDUU", "UDUD"]
    return [tb_update.deck(tb_update.UpdateTestbenchSpec(pulses=patterns[i % 10],
                                                         t_hold=1e-6 * (1 + i // 10)))
            for i in range(n)]


def plain_ngspice(decks: list[str], workdir: Path, one_thread: bool = False) -> float:
    """Wall time of ``ngspice -b deck.cir`` for every deck, one process each, in sequence.

    ``one_thread`` adds a ``.spiceinit`` with ``set num_threads=1`` (what the harness's workers
    use; the stock spinit asks for 8 OpenMP threads, which slows small decks on 2 cores)."""
    exe = ngspice_executable()
    spiceinit = workdir / ".spiceinit"
    if one_thread:
        spiceinit.write_text("set num_threads=1\n")
    else:
        spiceinit.unlink(missing_ok=True)
    paths = []
    for i, deck in enumerate(decks):
        p = workdir / f"deck{i}.cir"
        p.write_text(deck)
        paths.append(p)
    start = time.perf_counter()
    for p in paths:
        subprocess.run([exe, "-b", str(p)], cwd=workdir, capture_output=True, check=True,
                       stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def harness(decks: list[str]) -> float:
    start = time.perf_counter()
    for deck in decks:
        simulate(deck)  # auto backend: shared for decks this small
    return time.perf_counter() - start


def rss_after_run(deck: str) -> int:
    """Run ``deck`` in this (worker) process and return the process's resident memory, kB."""
    simulate(deck, SimOptions(backend="shared"))
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_profile(deck: str, runs: int, max_runs: int) -> list[int]:
    with WorkerPool(workers=1, max_runs=max_runs, timeout=120.0) as pool:
        rss = [0] * runs
        for i, value in pool.imap_unordered(rss_after_run, [deck] * runs):
            if isinstance(value, BaseException):
                raise value
            rss[i] = value
    return rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    n_small, n_mem = (40, 200) if args.quick else (200, 1000)
    figures: dict[str, float | str] = {"ngspice": ngspice_version(), "cores": os.cpu_count() or 1}
    print(f"ngspice {figures['ngspice']}, {figures['cores']} cores")

    decks = small_decks(n_small)
    simulate(decks[0])  # start the shared worker outside the timing
    with tempfile.TemporaryDirectory() as tmp:
        t_plain = plain_ngspice(decks, Path(tmp))
        t_plain_1 = plain_ngspice(decks, Path(tmp), one_thread=True)
    t_harness = harness(decks)
    figures["small_decks"] = n_small
    figures["small_plain_s"], figures["small_harness_s"] = t_plain, t_harness
    figures["small_plain_one_thread_s"] = t_plain_1
    figures["small_speedup"] = t_plain / t_harness
    figures["small_speedup_vs_one_thread"] = t_plain_1 / t_harness
    print(f"1. {n_small} small update decks: ngspice -b per deck {t_plain:.2f} s "
          f"({t_plain_1:.2f} s with num_threads=1), harness {t_harness:.2f} s -> harness "
          f"{t_plain / t_harness:.2f}x faster ({t_plain_1 / t_harness:.2f}x vs one-thread "
          f"ngspice -b; goal >= 3x)")

    big = tb_mac.deck(tb_mac.MacTestbenchSpec(crossbar=CrossbarSpec(
        rows=128, cols=128, r_row=2.5, r_col=2.5, c_row=1e-16, c_col=1e-16)))
    plain_t, harness_t, shared_t = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(5):  # interleaved, so slow phases of a shared VM hit all three alike
            plain_t.append(plain_ngspice([big], Path(tmp)))
            for options, times in ((SimOptions(), harness_t),
                                   (SimOptions(backend="shared"), shared_t)):
                start = time.perf_counter()
                simulate(big, options)
                times.append(time.perf_counter() - start)
    # best of 5: on a shared machine noise only ever adds time
    plain, auto, shared = (min(t) for t in (plain_t, harness_t, shared_t))
    figures["mac128_plain_s"], figures["mac128_harness_s"] = plain, auto
    figures["mac128_ratio"], figures["mac128_shared_ratio"] = auto / plain, shared / plain
    figures["mac128_median_ratio"] = statistics.median(harness_t) / statistics.median(plain_t)
    print(f"2. 128x128 MAC deck (best of 5): ngspice -b {plain:.2f} s, harness (auto backend "
          f"-> batch) {auto:.2f} s -> ratio {auto / plain:.3f} (goal <= 1.05; medians "
          f"{figures['mac128_median_ratio']:.3f}); forced shared backend {shared:.2f} s -> "
          f"{shared / plain:.3f}")

    # points of ~0.2 s each (MAC reads of a 32x32 array with wires), so that the start-up of
    # the worker processes (~1 s) does not dominate either run
    points = [MacPoint(crossbar=CrossbarSpec(rows=32, cols=32, r_row=2.5, r_col=2.5,
                                             g_seed=i), n_vectors=4)
              for i in range(16 if args.quick else 40)]
    throughput = {}
    for workers in (1, 2):
        start = time.perf_counter()
        out = sweep(mac_point, points, workers=workers, progress=False)
        assert not out.failed, out.failed[0].error
        throughput[workers] = len(points) / (time.perf_counter() - start)
    figures["sweep_throughput_1"], figures["sweep_throughput_2"] = throughput[1], throughput[2]
    figures["sweep_scaling"] = throughput[2] / throughput[1]
    print(f"3. sweep of {len(points)} 32x32 MAC points: 1 worker {throughput[1]:.1f} pt/s, "
          f"2 workers {throughput[2]:.1f} pt/s -> {throughput[2] / throughput[1]:.2f}x "
          f"(goal >= 1.8x)")

    deck = small_decks(1)[0]
    recycled = memory_profile(deck, n_mem, max_runs=100)
    kept = memory_profile(deck, n_mem, max_runs=n_mem + 1)
    tenth = n_mem // 10
    growth_recycled = max(recycled[-tenth:]) / max(recycled[:tenth]) - 1
    growth_kept = max(kept[-tenth:]) / max(kept[:tenth]) - 1
    figures["memory_runs"] = n_mem
    figures["memory_growth_recycled"], figures["memory_growth_no_recycling"] = (growth_recycled,
                                                                               growth_kept)
    figures["memory_peak_recycled_kB"], figures["memory_peak_no_recycling_kB"] = (max(recycled),
                                                                                 max(kept))
    print(f"4. worker memory over {n_mem} runs: peak RSS {max(recycled) / 1024:.0f} MB with "
          f"recycling every 100 runs (last vs first tenth {100 * growth_recycled:+.1f} %, goal "
          f"within 10 %); without recycling {max(kept) / 1024:.0f} MB "
          f"({100 * growth_kept:+.1f} %)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
