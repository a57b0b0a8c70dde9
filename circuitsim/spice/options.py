"""How a deck is run: :class:`SimOptions` (none of its fields change the simulated numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from circuitsim.netlist.safety import ModelLibrary
from circuitsim.spec import check_types, param, positive

#: ``auto`` runs decks longer than this with the batch backend (see :mod:`circuitsim.spice.runner`).
AUTO_BATCH_LINES = 8000


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How a deck is run (none of these change the simulated numbers)."""

    backend: Literal["auto", "shared", "batch"] = param(
        "auto", "shared: libngspice in a worker process; batch: one ngspice -b per run; "
        "auto: shared for small decks, batch for large ones")
    timeout: float = param(600.0, "wall-time limit of one run", "s wall clock")
    keep_dir: bool = param(False, "keep the run directory (deck, log) even on success")
    libraries: tuple[ModelLibrary, ...] = param(
        (), "vetted model libraries whose include lines the deck may hold "
            "(circuitsim.netlist.safety.vet_library)")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "timeout")
