"""Activations of the trained networks: ideal float functions or ramp-ADC tables.

A ramp-ADC activation (Yang et al. 2025) outputs the code of ``f(MAC)`` directly; its
*forward* value is the surrogate's table (:class:`~circuitsim.surrogate.activation.
ActivationTable`: the transitions measured from SPICE, so offsets, INL and the comparator are
in it). Its *backward* derivative is the ideal function's (straight-through estimator [ours]:
the staircase's own derivative is zero almost everywhere).
"""

from __future__ import annotations

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.surrogate.activation import ActivationTable
from circuitsim.train import kernel_base, kernels_periphery

NAMES = ("sigmoid", "tanh")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class Act:
    """``f(z)`` and ``f'(z)`` of ``name``; with ``table``, ``f`` is the ADC's staircase."""

    __slots__ = ("name", "table", "compiled", "_t", "_vals")

    def __init__(self, name: str, table: ActivationTable | None = None,
                 compiled: bool = False):
        if name not in NAMES:
            raise SpecError(f"activation={name!r}: must be one of {', '.join(NAMES)}")
        if table is not None and table.activation != name:
            raise SpecError(f"activation={name!r}: the ADC table is for {table.activation!r}")
        self.name, self.table = name, table
        self.compiled = compiled and table is not None  # kernels_periphery.staircase
        if table is not None:
            self._t = table.transitions.astype(np.float32)
            self._vals = (table.lo + np.arange(self._t.size + 1) * table.lsb).astype(np.float32)

    @property
    def label(self) -> str:
        return (f"{self.name} ({self.table.bits}-bit ramp ADC)" if self.table is not None
                else f"{self.name} (float)")

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.compiled and z.dtype == np.float32:
            out = np.empty(z.shape, np.float32)
            kernels_periphery.staircase(kernel_base.flat(np.ascontiguousarray(z)), self._t,
                                        self._vals, out.reshape(-1))
            return out
        if self.table is not None:
            return self._vals[np.searchsorted(self._t, z, side="left")]
        return _sigmoid(z) if self.name == "sigmoid" else np.tanh(z)

    def grad(self, z: np.ndarray) -> np.ndarray:
        """Ideal ``f'(z)`` (also the straight-through derivative of a table)."""
        if self.name == "sigmoid":
            s = _sigmoid(z)
            return s * (1.0 - s)
        t = np.tanh(z)
        return 1.0 - t * t
