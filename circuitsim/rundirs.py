"""Where SPICE run directories go: ``$CIRCUITSIM_RUN_DIR`` if set, else the system temp dir.

Every run gets a fresh ``circuitsim-run-*`` directory (deck, log, raw file); the backends
delete it after a successful run unless asked to keep it, and keep it when the run failed so
the deck and log can be read (:func:`failed_run`). Only the newest ``$CIRCUITSIM_KEEP_RUNS``
(default 20) failed-run directories are kept: each failure marks its directory and removes
older marked ones, never a directory without the mark (a run in progress, or one a user asked
to keep). Pointing ``CIRCUITSIM_RUN_DIR`` elsewhere (the test suite points it into its own
temporary directory) keeps those directories out of the system temp dir.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from circuitsim.errors import SimError

#: Environment variable naming the directory that run directories are made in.
RUN_DIR_ENV = "CIRCUITSIM_RUN_DIR"
#: Environment variable: how many failed-run directories to keep (default :data:`KEEP`).
KEEP_ENV, KEEP = "CIRCUITSIM_KEEP_RUNS", 20
#: The file that marks a kept failed-run directory.
MARK = ".failed"


def new_run_dir() -> Path:
    """A new, empty run directory (its parent is created if needed)."""
    base = os.environ.get(RUN_DIR_ENV) or None
    if base is not None:
        Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="circuitsim-run-", dir=base))


def _keep() -> int:
    try:
        return max(1, int(os.environ.get(KEEP_ENV, KEEP)))
    except ValueError:
        return KEEP


def failed_run(run_dir: Path, message: str, deck: str = "", log: str = "") -> SimError:
    """The :class:`SimError` of a failed run whose directory is kept: mark it, remove marked
    directories beyond the newest :data:`KEEP_ENV` in the same parent, say where it is."""
    if run_dir.is_dir():
        (run_dir / MARK).touch()
    keep = _keep()
    marked = []
    for d in run_dir.parent.glob("circuitsim-run-*"):
        try:
            marked.append(((d / MARK).stat().st_mtime_ns, d))
        except OSError:  # not a failed run (or removed meanwhile)
            continue
    for _, old in sorted(marked, reverse=True)[keep:]:
        if old != run_dir:
            shutil.rmtree(old, ignore_errors=True)
    return SimError(f"{message} (run dir kept: {run_dir}; the newest {keep} failed runs are "
                    f"kept, set {KEEP_ENV} to change)", deck=deck, log=log, run_dir=run_dir)
