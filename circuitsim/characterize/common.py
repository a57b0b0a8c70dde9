"""What every characterization sweep shares: running its points and refusing partial data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from circuitsim.errors import SimError
from circuitsim.sweep import sweep


def run_points(fn: Callable[[Any], Any], points: Sequence[Any], *, store: Path | str | None,
               workers: int | None, scheduler: str | None, progress: bool,
               desc: str) -> list[Any]:
    """Results of ``fn`` on every point, in order (see :func:`circuitsim.sweep.sweep`).

    A dataset is never built from a partial sweep: if a point failed, raise :class:`SimError`
    naming how many failed and the first error (the finished points stay in ``store``, so a
    rerun only simulates what is missing).
    """
    res = sweep(fn, points, store=store, workers=workers, scheduler=scheduler,
                progress=progress, desc=desc)
    failed = res.failed
    if failed:
        first = failed[0]
        raise SimError(f"{desc}: {len(failed)} of {len(points)} points failed; first "
                       f"(point {first.index}): {first.error}")
    return res.results
