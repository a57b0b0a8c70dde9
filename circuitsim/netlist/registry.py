"""Every block and testbench the CLI and the golden-netlist check know about.

A :class:`Block` couples a frozen spec class with a pure generator ``spec -> deck text`` and a
few named example specs (overrides of the defaults) that are kept as golden decks in
``netlists/<block>__<example>.cir``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from circuitsim.errors import SpecError


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    spec: type
    generate: Callable[[Any], str]
    summary: str
    kind: Literal["block", "testbench"]
    examples: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _blocks() -> dict[str, Block]:
    # Imported here so that importing the registry stays cheap and cycle-free.
    from circuitsim.netlist import adc, cell3t1c, crossbar, ramp, tb_conversion, tb_mac, tb_update

    found: list[Block] = []
    for module in (crossbar, cell3t1c, ramp, adc, tb_mac, tb_update, tb_conversion):
        found.extend(module.BLOCKS)
    return {b.name: b for b in found}


def blocks() -> dict[str, Block]:
    """All registered blocks, by name (blocks first, then testbenches)."""
    return _blocks()


def get(block_name: str) -> Block:
    known = blocks()
    if block_name not in known:
        raise SpecError(f"block: unknown block {block_name!r} (known: {', '.join(known)})")
    return known[block_name]
