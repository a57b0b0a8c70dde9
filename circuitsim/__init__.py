"""circuitsim: ngspice decks, simulations and surrogates for analog in-memory training hardware.

The public API, by layer (see README.md):

- specs and decks: :class:`CrossbarSpec`, :class:`Cell3T1CSpec`, :class:`RampSpec`,
  :class:`ComparatorSpec`, the testbench specs, and ``deck``/``subckt_lines`` in their modules
  under :mod:`circuitsim.netlist`;
- running decks: :func:`simulate`, :class:`SimOptions`, :class:`TranResult`,
  :class:`WorkerPool`;
- phases: :func:`run_mac`, :func:`run_update`, :func:`run_conversion` (and ``*_point`` for
  sweeps), their result records;
- sweeps and variability: :func:`sweep`, :func:`circuitsim.montecarlo.draw`,
  :func:`circuitsim.montecarlo.monte_carlo`; energy: :mod:`circuitsim.energy`;
- characterization and surrogates (kinds ``mac``, ``update``, ``adc``): :func:`make_spec`,
  :func:`get_surrogate` (cached characterize + fit), :func:`validate_surrogate`,
  :class:`SurrogateCache`; the models in :mod:`circuitsim.surrogate`;
- errors: :class:`CircuitsimError` and its subclasses.
"""

__version__ = "0.1.0"

from circuitsim.errors import (
    CacheError,
    CircuitsimError,
    NetlistError,
    SetupError,
    SimError,
    SpecError,
)
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.cell3t1c import Cell3T1CRowSpec, Cell3T1CSpec
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.netlist.ramp import RampSpec, design_ramp
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.netlist.tb_mac import MacTestbenchSpec
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases import (
    ConversionResult,
    MacResult,
    UpdateResult,
    conversion_point,
    mac_point,
    run_conversion,
    run_mac,
    run_update,
    update_point,
)
from circuitsim.spice.pool import WorkerPool
from circuitsim.spice.result import TranResult
from circuitsim.spice.runner import SimOptions, simulate
from circuitsim.surrogate.cache import SurrogateCache
from circuitsim.surrogate.service import get_surrogate, make_spec, validate_surrogate
from circuitsim.sweep import sweep

__all__ = [
    "CacheError", "Cell3T1CRowSpec", "Cell3T1CSpec", "CircuitsimError", "ComparatorSpec",
    "ConversionResult", "ConversionTestbenchSpec", "CrossbarSpec", "MacResult",
    "MacTestbenchSpec", "NetlistError", "RampSpec", "SetupError", "SimError", "SimOptions",
    "SpecError", "TranResult", "UpdateResult", "UpdateTestbenchSpec", "WorkerPool",
    "conversion_point", "design_ramp", "mac_point", "run_conversion", "run_mac", "run_update",
    "simulate", "sweep", "update_point", "SurrogateCache", "get_surrogate", "make_spec",
    "validate_surrogate",
]
