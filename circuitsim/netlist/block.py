"""A :class:`Block`: a frozen spec class, its pure generator ``spec -> deck text`` and a few
named example specs (overrides of the defaults) kept as golden decks in
``netlists/<block>__<example>.cir``. Each generator module declares its ``BLOCKS``;
:mod:`circuitsim.netlist.registry` collects them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    spec: type
    generate: Callable[[Any], str]
    summary: str
    kind: Literal["block", "testbench"]
    examples: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
