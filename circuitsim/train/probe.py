"""SPICE spot-checks during training (``--spot-every K``): every ``K`` steps, real ngspice
runs of the network's *current* state against the surrogates, logged with the step.

- MAC: a random tile (at most 32 x 32) of the first layer's first physical array (``G+``),
  read with a few training inputs (an MLP's first layer; otherwise uniform random inputs),
  :func:`~circuitsim.train.spotcheck.mac_spot_check`.
- 3T1C (rule ``ambrogio``): three random cells of the first layer at their current V_C, eight
  random up/down pulses each (:func:`~circuitsim.train.spotcheck.update_spot_check`). The
  training cells are drawn from the fitted parameter distribution, which has no SPICE
  netlist of its own, so the check simulates nominal cells from the trainer's V_C: it tests
  the state-dependent step where training has taken the cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from circuitsim.train.spotcheck import mac_spot_check, update_spot_check

UPDATE_CELLS = 3
UPDATE_PULSES = 8
MAC_READS = 4


class SpiceProbe:
    """``probe(model, step)`` -> list of spot-check dicts (see the module docstring)."""

    def __init__(self, sur: Any, x_probe: np.ndarray, seed: int):
        self.sur = sur
        self.x = np.asarray(x_probe, np.float32)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5B07]))

    def __call__(self, model: Any, step: int) -> list[dict[str, Any]]:
        layer = model.layers[0]
        read = getattr(layer, "read", None)
        if read is None:  # float weights: nothing physical to check
            return []
        x = self.x[:MAC_READS].reshape(min(len(self.x), MAC_READS), -1)
        if x.shape[1] != layer.n_in - 1 or x.dtype.kind != "f":  # e.g. LSTM [x_t, h]
            x = self.rng.uniform(-1.0, 1.0, (MAC_READS, layer.n_in - 1))
        x = np.concatenate([np.clip(x, -1.0, 1.0), np.ones((len(x), 1))], axis=1)
        out = [mac_spot_check(self.sur.mac, self.sur.specs["mac"], read.g[0].astype(float), x,
                              rng=self.rng).with_step(step).to_json()]
        if hasattr(layer, "vc") and self.sur.update is not None:
            spec = self.sur.specs["update"]
            idx = self.rng.choice(layer.vc.size, UPDATE_CELLS, replace=False)
            vc = np.clip(layer.vc.reshape(-1)[idx].astype(float), 0.0, spec.cell.vdd)
            pulses = self.rng.choice(np.array([-1, 1]), (UPDATE_CELLS, UPDATE_PULSES))
            out.append(update_spot_check(self.sur.update, spec, vc, None, pulses)
                       .with_step(step).to_json())
        return out
