"""Every block and testbench the CLI and the golden-netlist check know about (the
:class:`~circuitsim.netlist.block.Block` each generator module declares in ``BLOCKS``)."""

from __future__ import annotations

from circuitsim.errors import SpecError
from circuitsim.netlist import (
    adc,
    cell3t1c,
    crossbar,
    ramp,
    tb_conversion,
    tb_latch,
    tb_mac,
    tb_update,
)
from circuitsim.netlist.block import Block


def blocks() -> dict[str, Block]:
    """All registered blocks, by name (blocks first, then testbenches)."""
    found: list[Block] = []
    for module in (crossbar, cell3t1c, ramp, adc, tb_mac, tb_update, tb_conversion, tb_latch):
        found.extend(module.BLOCKS)
    return {b.name: b for b in found}


def get(block_name: str) -> Block:
    known = blocks()
    if block_name not in known:
        raise SpecError(f"block: unknown block {block_name!r} (known: {', '.join(known)})")
    return known[block_name]
