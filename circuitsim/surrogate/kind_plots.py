"""The plots of each surrogate kind (PNG via matplotlib's Agg backend): its dataset's and its
validation's, for the command line and the demo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from circuitsim.characterize import adc_plots, mac_plots, update_plots
from circuitsim.surrogate import activation_plots
from circuitsim.surrogate import mac_plots as sur_mac_plots
from circuitsim.surrogate import update_plots as sur_update_plots
from circuitsim.surrogate.kind_names import KindName


@dataclass(frozen=True, slots=True)
class KindPlots:
    """``plot_dataset(dataset, out_dir)`` and ``plot_validation(validation, out_dir)``; each
    returns the paths it wrote."""

    plot_dataset: Callable[[Any, Path], list[Path]]
    plot_validation: Callable[[Any, Path], list[Path]]


PLOTS: dict[KindName, KindPlots] = {
    "mac": KindPlots(mac_plots.plot_dataset, sur_mac_plots.plot_validation),
    "update": KindPlots(update_plots.plot_dataset, sur_update_plots.plot_validation),
    "adc": KindPlots(adc_plots.plot_dataset, activation_plots.plot_validation),
}
