"""circuitsim: ngspice decks, simulations and surrogates for analog in-memory training hardware.

The public API, by layer (see README.md):

- specs and decks: :class:`CrossbarSpec`, :class:`Cell3T1CSpec`, :class:`RampSpec`,
  :class:`ComparatorSpec`, the testbench specs, and ``deck``/``subckt_lines`` in their modules
  under :mod:`circuitsim.netlist`;
- running decks: :func:`simulate`, :class:`SimOptions`, :class:`TranResult`,
  :class:`WorkerPool`;
- phases: :func:`run_mac`, :func:`run_update`, :func:`run_conversion` (and ``*_point`` for
  sweeps), their result records;
- sweeps and variability: :func:`circuitsim.sweep.sweep`, :func:`circuitsim.montecarlo.draw`,
  :func:`circuitsim.montecarlo.monte_carlo`; energy: :mod:`circuitsim.energy`;
- characterization and surrogates (kinds ``mac``, ``update``, ``adc``): :func:`make_spec`,
  :func:`get_surrogate` (cached characterize + fit), :func:`validate_surrogate`,
  :class:`SurrogateCache`; the models in :mod:`circuitsim.surrogate`;
- errors: :class:`CircuitsimError` and its subclasses.

Importing the package is cheap: the names below (except the version and the errors) are
imported from the module that defines them on first access (PEP 562, table :data:`_API`), so
``import circuitsim.netlist.fmt`` or ``circuitsim --help`` do not load numpy, scipy or dask.
``circuitsim.sweep`` is the module; its function is ``circuitsim.sweep.sweep``.
"""

import importlib

from circuitsim._version import __version__
from circuitsim.errors import (
    CacheError,
    CircuitsimError,
    NetlistError,
    SetupError,
    SimError,
    SpecError,
)

#: Public name -> the module defining it, imported on first access of the name.
_API: dict[str, str] = {
    "ComparatorSpec": "circuitsim.netlist.adc",
    "Cell3T1CRowSpec": "circuitsim.netlist.cell3t1c",
    "Cell3T1CSpec": "circuitsim.netlist.cell3t1c",
    "CrossbarSpec": "circuitsim.netlist.crossbar",
    "RampSpec": "circuitsim.netlist.ramp",
    "design_ramp": "circuitsim.netlist.ramp",
    "ConversionTestbenchSpec": "circuitsim.netlist.tb_conversion",
    "MacTestbenchSpec": "circuitsim.netlist.tb_mac",
    "UpdateTestbenchSpec": "circuitsim.netlist.tb_update",
    "ConversionResult": "circuitsim.phases.conversion",
    "conversion_point": "circuitsim.phases.conversion",
    "run_conversion": "circuitsim.phases.conversion",
    "MacResult": "circuitsim.phases.mac",
    "mac_point": "circuitsim.phases.mac",
    "run_mac": "circuitsim.phases.mac",
    "UpdateResult": "circuitsim.phases.update",
    "run_update": "circuitsim.phases.update",
    "update_point": "circuitsim.phases.update",
    "WorkerPool": "circuitsim.spice.pool",
    "TranResult": "circuitsim.spice.result",
    "SimOptions": "circuitsim.spice.runner",
    "simulate": "circuitsim.spice.runner",
    "SurrogateCache": "circuitsim.surrogate.cache",
    "get_surrogate": "circuitsim.surrogate.service",
    "make_spec": "circuitsim.surrogate.service",
    "validate_surrogate": "circuitsim.surrogate.service",
}


def __getattr__(name: str) -> object:
    if name not in _API:
        raise AttributeError(f"module 'circuitsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


__all__ = [
    "CacheError", "CircuitsimError", "NetlistError", "SetupError", "SimError", "SpecError",
    "__version__", *_API,
]
