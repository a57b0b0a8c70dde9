"""The ledger's estimates of what the decks do not simulate (``circuitsim train --set
ledger.FIELD=VALUE``), kept apart from :mod:`circuitsim.train.ledger` so the training spec
needs none of the pricing code."""

from __future__ import annotations

from dataclasses import dataclass

from circuitsim.energy import PeripheryEstimate
from circuitsim.spec import check_types, non_negative, param


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    """What the decks do not simulate: labelled estimates (set them to your design), and
    whether the ledger counts at all."""

    enabled: bool = param(True, "count and price every operation (off: no ledger, e.g. to "
                                "time the counting)")
    p_opamp: float = param(PeripheryEstimate().p_opamp, "static power of one sense "
                           "amplifier (TIA or integrator) while its read is active (as "
                           "`circuitsim energy`)", "W")
    dac_fom: float = param(1e-15, "input DAC energy per conversion step: a conversion of b "
                                  "bits costs dac_fom 2^b", "J")
    pcm_reset: float = param(20e-12, "one PCM RESET pulse", "J")
    pcm_set_step: float = param(5e-12, "one step of a PCM SET ramp-down or one partial-SET "
                                       "pulse", "J")
    t_pcm_step: float = param(100e-9, "duration of one PCM SET step (the paper: 1.7-550 ns)",
                              "s")
    device_pulse: float = param(1e-12, "one SET/RESET pulse of a pulse-rule (RPU) device", "J")
    t_device_pulse: float = param(1e-9, "one pulse slot of the pulse rules", "s")

    def __post_init__(self) -> None:
        check_types(self)
        non_negative(self, "p_opamp", "dac_fom", "pcm_reset", "pcm_set_step", "t_pcm_step",
                     "device_pulse", "t_device_pulse")
