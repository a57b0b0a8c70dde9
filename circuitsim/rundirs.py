"""Where SPICE run directories go: ``$CIRCUITSIM_RUN_DIR`` if set, else the system temp dir.

Every run gets a fresh ``circuitsim-run-*`` directory (deck, log, raw file); the backends
delete it after a successful run unless asked to keep it, and keep it when the run failed so
the deck and log can be read. Pointing ``CIRCUITSIM_RUN_DIR`` elsewhere (the test suite points
it into its own temporary directory) keeps those directories out of the system temp dir.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Environment variable naming the directory that run directories are made in.
RUN_DIR_ENV = "CIRCUITSIM_RUN_DIR"


def new_run_dir() -> Path:
    """A new, empty run directory (its parent is created if needed)."""
    base = os.environ.get(RUN_DIR_ENV) or None
    if base is not None:
        Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="circuitsim-run-", dir=base))
