"""The three surrogate kinds: what characterizes each (SPICE → dataset) and what fits and
validates its surrogate, as a typed registry of the functions and classes themselves.

=========  ==========================================  =====================================
kind       characterization (SPICE → dataset)           surrogate (model; fit; validate)
=========  ==========================================  =====================================
mac        :mod:`circuitsim.characterize.mac`           :mod:`~circuitsim.surrogate.mac`,
                                                        ``mac_fit``, ``mac_validate``
update     :mod:`circuitsim.characterize.update`        :mod:`~circuitsim.surrogate.update`,
                                                        ``update_fit``, ``update_validate``
adc        :mod:`circuitsim.characterize.adc`           :mod:`circuitsim.surrogate.activation`
           (spec: ``adc_spec``)
=========  ==========================================  =====================================

Their plots are in :mod:`circuitsim.surrogate.kind_plots` (matplotlib stays out of this module).

``char_code`` and ``fit_code`` list the source files (relative to the package) whose code
decides a kind's dataset and its fit; they are hashed into the kind's cache keys
(:mod:`circuitsim.fingerprint`). A new helper module of a characterization or a fit must be
listed here, or editing it would not refresh the cache.

``parts`` splits a spec into independent specs (the ADC: one per resolution) that
:func:`circuitsim.surrogate.service.get_surrogate` characterizes and caches one by one, and
``merge`` joins their surrogates; a caller needing one part never simulates the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from circuitsim.characterize import adc, adc_spec
from circuitsim.characterize import mac as char_mac
from circuitsim.characterize import update as char_update
from circuitsim.errors import SpecError
from circuitsim.fidelity import Check
from circuitsim.surrogate import (
    activation,
    mac,
    mac_fit,
    mac_validate,
    update,
    update_fit,
    update_validate,
)
from circuitsim.surrogate.kind_names import KindName


@dataclass(frozen=True, slots=True)
class SurrogateKind:
    """One surrogate kind: its characterization and its surrogate."""

    name: KindName
    summary: str
    spec_class: type  #: the frozen characterization spec (``*CharSpec``)
    quick: Mapping[str, Any]  #: dotted-key overrides: the small preset for tests and CI
    dataset_class: type  #: what :attr:`characterize` returns (``.save``/``.load``)
    characterize: Callable[..., Any]  #: ``(spec, *, store, workers, scheduler, progress)``
    dataset_summary: Callable[[Any], list[Check]]  #: headline figures of a dataset
    surrogate_class: type  #: the fitted model (``to_arrays``/``from_arrays``/``info``)
    fit: Callable[[Any], Any]  #: dataset -> surrogate
    validate: Callable[..., Any]  #: ``(surrogate, spec, *, store, workers, ...)`` -> validation
    char_code: tuple[str, ...]  #: characterization modules (dataset code, with the records')
    fit_code: tuple[str, ...]  #: fit modules
    #: the independent parts of a spec, each characterized and cached on its own (None: one)
    parts: Callable[[Any], list[Any]] | None = None
    merge: Callable[[list[Any]], Any] | None = None  #: the parts' surrogates -> the whole


KINDS: dict[KindName, SurrogateKind] = {
    "mac": SurrogateKind(
        "mac", "crossbar MAC transfer (IR drop, read non-linearity), forward and backward",
        char_mac.MacCharSpec, char_mac.QUICK, char_mac.MacDataset, char_mac.characterize,
        char_mac.summary, mac.MacSurrogate, mac_fit.fit, mac_validate.validate,
        ("characterize/mac.py", "characterize/mac_circuit.py"),
        ("surrogate/mac.py", "surrogate/mac_fit.py", "surrogate/mac_layer.py",
         "surrogate/mac_timing.py")),
    "update": SurrogateKind(
        "update", "3T1C update steps per up/down pulse, cell-to-cell spread, leakage",
        char_update.UpdateCharSpec, char_update.QUICK, char_update.UpdateDataset,
        char_update.characterize, char_update.summary, update.UpdateSurrogate, update_fit.fit,
        update_validate.validate,
        ("characterize/update.py",), ("surrogate/update.py", "surrogate/update_fit.py")),
    "adc": SurrogateKind(
        "adc", "ramp-ADC activation codes per function, bits and V_read",
        adc_spec.AdcCharSpec, adc_spec.QUICK, adc.AdcDataset, adc.characterize, adc.summary,
        activation.ActivationSurrogate, activation.fit, activation.validate,
        ("characterize/adc.py", "characterize/adc_spec.py", "characterize/adc_calibration.py",
         "characterize/adc_configs.py", "characterize/adc_metrics.py",
         "characterize/adc_transitions.py"),
        ("surrogate/activation.py",), adc_spec.AdcCharSpec.per_width, activation.merge),
}


def get_kind(name: str) -> SurrogateKind:
    if name not in KINDS:
        raise SpecError(f"kind: unknown surrogate kind {name!r} (known: {', '.join(KINDS)})")
    return KINDS[name]
