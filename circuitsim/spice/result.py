"""Typed simulation results: named numpy waveforms and ``.meas`` values, no simulator handles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from circuitsim.errors import SimError


@dataclass(frozen=True, slots=True)
class TranResult:
    """Result of one ngspice run.

    ``time`` has shape ``(n,)`` in seconds (empty for an operating-point-only deck);
    ``signals`` maps lower-case vector names (``v(node)``, ``i(vsrc)``) to arrays of shape
    ``(n,)`` in V or A; ``meas`` maps lower-case ``.meas`` names to floats (NaN when ngspice
    reported the measurement as failed); ``run_dir`` is the kept run directory (deck, log)
    when the run was asked to keep it, else ``None``.
    """

    time: np.ndarray
    signals: dict[str, np.ndarray]
    meas: dict[str, float]
    ngspice_version: str
    wall_time: float
    log: str = field(repr=False, default="")
    run_dir: Path | None = None

    def __getitem__(self, key: str) -> np.ndarray:
        """The waveform named ``key`` (any case); a missing vector is a failed run."""
        try:
            return self.signals[key.lower()]
        except KeyError:
            known = ", ".join(sorted(self.signals)) or "none"
            raise SimError(f"ngspice result has no vector {key!r} (saved: {known}); "
                           "add it to the deck's .save line", log=self.log,
                           run_dir=self.run_dir) from None
