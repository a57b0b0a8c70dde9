"""Phase helpers: run a phase's testbench, return a typed record of named numpy arrays.

Three phases, each with a convenience function taking specs and arrays, a *point* (the
testbench spec: frozen, picklable, TOML/JSON through :func:`circuitsim.spec.from_mapping`) and
a module-level function of one point for sweeps (``sweep(mac_point, points)``):

=============  ======================  ===========================  ===================
phase          convenience             point (testbench spec)       sweep function
=============  ======================  ===========================  ===================
MAC read       :func:`run_mac`         :data:`MacPoint`             :func:`mac_point`
3T1C update    :func:`run_update`      :data:`UpdatePoint`          :func:`update_point`
ramp ADC       :func:`run_conversion`  :data:`ConversionPoint`      :func:`conversion_point`
=============  ======================  ===========================  ===================

Results (:class:`MacResult`, :class:`UpdateResult`, :class:`ConversionResult`) hold no
simulator objects; ``to_arrays()``/``from_arrays()`` and ``save()``/``load()`` store them as
``.npz`` without pickle. Each function takes ``options`` (:class:`SimOptions`) to pick the
simulator backend; ``None`` uses :func:`circuitsim.spice.runner.simulate`'s default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from circuitsim.phases.conversion import (
    ConversionPoint,
    ConversionResult,
    conversion_point,
    run_conversion,
)
from circuitsim.phases.mac import MacPoint, MacResult, mac_point, run_mac
from circuitsim.phases.records import Record
from circuitsim.phases.update import UpdatePoint, UpdateResult, run_update, update_point


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase as a sweep/CLI sees it: its point class, its function and its result class."""

    name: str
    point: type
    run: Callable[[Any], Record]
    result: type[Record]


#: Every phase by name (for CLIs reading points from TOML and loading stored results).
PHASES = {
    "mac": Phase("mac", MacPoint, mac_point, MacResult),
    "update": Phase("update", UpdatePoint, update_point, UpdateResult),
    "conversion": Phase("conversion", ConversionPoint, conversion_point, ConversionResult),
}

__all__ = [
    "PHASES", "ConversionPoint", "ConversionResult", "MacPoint", "MacResult", "Phase",
    "Record", "UpdatePoint", "UpdateResult", "conversion_point", "mac_point", "run_conversion",
    "run_mac", "run_update", "update_point",
]
