"""Golden decks: every registered block x example, byte for byte (regenerate: make golden)."""

from __future__ import annotations

import pytest

from circuitsim.netlist import golden

EXAMPLES = dict(golden.examples())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_golden_deck_is_byte_identical(name):
    path = golden.GOLDEN_DIR / name
    assert path.exists(), f"{name} missing: run 'make golden' and review the diff"
    assert path.read_bytes() == EXAMPLES[name].encode(), f"{name} changed: review, 'make golden'"


def test_no_stale_golden_files():
    stale = {p.name for p in golden.GOLDEN_DIR.glob("*.cir")} - set(EXAMPLES)
    assert not stale


@pytest.mark.spice
@pytest.mark.parametrize("name", sorted(n for n in EXAMPLES if n.startswith("tb_")))
def test_golden_testbenches_run_in_ngspice(name):
    from circuitsim.spice.ngspice import run_batch

    deck, libraries = golden.runnable(EXAMPLES[name])
    result = run_batch(deck, libraries=libraries)
    assert result.meas and len(result.time) > 1
    assert not any(v != v for v in result.meas.values()), "a .meas of a golden deck failed"
