"""Typed simulation results: named numpy waveforms and ``.meas`` values, no simulator handles."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class TranResult:
    """Result of one ngspice run.

    ``time`` has shape ``(n,)`` in seconds (empty for an operating-point-only deck);
    ``signals`` maps lower-case vector names (``v(node)``, ``i(vsrc)``) to arrays of shape
    ``(n,)`` in V or A; ``meas`` maps lower-case ``.meas`` names to floats (NaN when ngspice
    reported the measurement as failed).
    """

    time: np.ndarray
    signals: dict[str, np.ndarray]
    meas: dict[str, float]
    ngspice_version: str
    wall_time: float
    log: str = field(repr=False, default="")

    def __getitem__(self, key: str) -> np.ndarray:
        return self.signals[key.lower()]
