"""The three surrogate kinds and where their characterization, fit and validation live.

=========  ==========================================  =====================================
kind       characterization (SPICE → dataset)           surrogate (fit, validate)
=========  ==========================================  =====================================
mac        :mod:`circuitsim.characterize.mac`           :mod:`circuitsim.surrogate.mac`
update     :mod:`circuitsim.characterize.update`        :mod:`circuitsim.surrogate.update`
adc        :mod:`circuitsim.characterize.adc`           :mod:`circuitsim.surrogate.activation`
=========  ==========================================  =====================================

Every characterization module exports ``<Name>CharSpec`` (the frozen sweep spec), ``QUICK``
(dotted-key overrides giving a small version for tests and CI), ``<Name>Dataset``,
``characterize`` and ``summary``; its ``*_plots`` module ``plot_dataset``. Every surrogate
module exports the surrogate class (``to_arrays``/``from_arrays``/``info``), ``fit`` and
``validate``; its ``*_plots`` module ``plot_validation``. Modules are imported on first use.

``char_code`` and ``fit_code`` list the source files (relative to the package) whose code
decides a kind's dataset and its fit; they are hashed into the kind's cache keys
(:mod:`circuitsim.fingerprint`). A new helper module of a characterization or a fit must be
listed here, or editing it would not refresh the cache.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from circuitsim.errors import SpecError


@dataclass(frozen=True, slots=True)
class Kind:
    """Where one surrogate kind lives (module and class names)."""

    name: str
    char_module: str
    char_prefix: str
    sur_module: str
    sur_class: str
    summary: str
    char_code: tuple[str, ...]  #: characterization modules (dataset code, with the records')
    fit_code: tuple[str, ...]  #: fit modules

    def char(self) -> ModuleType:
        return importlib.import_module(f"circuitsim.characterize.{self.char_module}")

    def char_plots(self) -> ModuleType:
        return importlib.import_module(f"circuitsim.characterize.{self.char_module}_plots")

    def sur(self) -> ModuleType:
        return importlib.import_module(f"circuitsim.surrogate.{self.sur_module}")

    def sur_plots(self) -> ModuleType:
        return importlib.import_module(f"circuitsim.surrogate.{self.sur_module}_plots")

    @property
    def spec_class(self) -> type:
        return getattr(self.char(), f"{self.char_prefix}CharSpec")

    @property
    def dataset_class(self) -> type:
        return getattr(self.char(), f"{self.char_prefix}Dataset")

    @property
    def surrogate_class(self) -> type:
        return getattr(self.sur(), self.sur_class)

    @property
    def quick(self) -> dict[str, Any]:
        return dict(self.char().QUICK)


KINDS: dict[str, Kind] = {
    "mac": Kind("mac", "mac", "Mac", "mac", "MacSurrogate",
                "crossbar MAC transfer (IR drop, read non-linearity), forward and backward",
                ("characterize/mac.py",), ("surrogate/mac.py",)),
    "update": Kind("update", "update", "Update", "update", "UpdateSurrogate",
                   "3T1C update steps per up/down pulse, cell-to-cell spread, leakage",
                   ("characterize/update.py",),
                   ("surrogate/update.py", "surrogate/update_fit.py")),
    "adc": Kind("adc", "adc", "Adc", "activation", "ActivationSurrogate",
                "ramp-ADC activation codes per function, bits and V_read",
                ("characterize/adc.py", "characterize/adc_calibration.py",
                 "characterize/adc_configs.py", "characterize/adc_metrics.py",
                 "characterize/adc_transitions.py"),
                ("surrogate/activation.py",)),
}


def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise SpecError(f"kind: unknown surrogate kind {name!r} (known: {', '.join(KINDS)})")
    return KINDS[name]
