"""Run options for a testbench built from a technology: its vetted model libraries."""

from __future__ import annotations

import dataclasses

from circuitsim.netlist.technology import TechnologySpec, model_libraries
from circuitsim.spice.options import SimOptions


def options_for(tech: TechnologySpec, options: SimOptions | None) -> SimOptions | None:
    """``options`` plus the libraries a deck of ``tech`` includes (unchanged for PTM, whose
    cards are inlined)."""
    libraries = model_libraries(tech)
    if not libraries:
        return options
    base = options or SimOptions()
    return dataclasses.replace(base, libraries=(*base.libraries, *libraries))
