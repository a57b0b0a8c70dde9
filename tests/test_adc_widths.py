"""The ADC characterization splits by resolution: one cache entry per width, and a user of
3-bit tables never simulates a ramp of another width.

Independent checks: the simulations are counted through the real sweep runner (a store
holding only the session's 3-bit decks must not grow), and the per-width tables equal those
fitted from the characterization of the whole QUICK spec (the split is a partition).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from circuitsim.surrogate import activation as sa
from circuitsim.surrogate.cache import SurrogateCache
from circuitsim.surrogate.service import Runner, get_surrogate


def _records(store) -> list:
    return sorted(p for p in store.glob("*.json") if not p.name.endswith(".error.json"))


def _same_tables(a: sa.ActivationSurrogate, b: sa.ActivationSurrogate, bits: int) -> None:
    for act, bb, v in b.available():
        if bb == bits:
            np.testing.assert_array_equal(a.table(act, bb, v).transitions,
                                          b.table(act, bb, v).transitions)


@pytest.mark.spice
def test_three_bits_simulate_no_four_bit_ramp_and_widths_have_own_entries(quick, tmp_path):
    spec = quick.spec("adc")
    assert spec.bits == (3, 4) and spec.mc_bits == 4
    whole = sa.fit(quick.dataset("adc"))  # fills the session store with every QUICK deck
    three_only = tmp_path / "store"
    three_only.mkdir()
    for meta in _records(quick.store):
        point = json.loads(meta.read_text())["point"]  # the store also holds other kinds'
        if point.get("ramp", {}).get("bits") == 3:
            for path in (meta, meta.with_suffix(".npz")):
                shutil.copy(path, three_only / path.name)
    stored = _records(three_only)
    assert stored
    cache = SurrogateCache(tmp_path / "cache")

    three, e3, fitted = get_surrogate("adc", replace(spec, bits=(3,)), cache=cache,
                                      runner=Runner(store=three_only, progress=False))
    assert fitted
    # every deck it asked the runner for was a stored 3-bit one: nothing was simulated
    assert _records(three_only) == stored
    assert set(three.bits.tolist()) == {3}
    _same_tables(three, whole, 3)

    # the whole spec: the 3-bit entry is reused, the 4-bit one made, the merge cached apart
    sur, entry, _ = get_surrogate("adc", spec, cache=cache,
                                  runner=Runner(store=quick.store, progress=False))
    keys = [m["key"] for m in cache.entries("adc")]
    assert len(keys) == len(set(keys)) == 3
    assert entry.meta["parts"][0] == e3.key and entry.key not in entry.meta["parts"]
    for b in (3, 4):
        _same_tables(sur, whole, b)
    # the Monte-Carlo lives in the 4-bit part only
    summary = {c["name"] for c in entry.meta["dataset_summary"]}
    assert any(n.startswith("calibration sigmoid 4b") for n in summary)
