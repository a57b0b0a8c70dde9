"""Golden decks: every registered block × its example specs, kept in ``netlists/``.

``circuitsim golden`` checks them byte for byte; ``circuitsim golden --update`` (or
``make golden``) regenerates them after an intended change, to be reviewed with ``git diff``.

Decks of a prepared technology (SKY130) name its library by absolute path, which differs per
machine: golden files write that directory as ``${CIRCUITSIM_TECH_DIR}`` (replace it with the
technology directory, e.g. ``~/.cache/circuitsim/technology``, to run one by hand).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from circuitsim import spec as specs
from circuitsim.netlist.registry import blocks
from circuitsim.netlist.safety import ModelLibrary, vet_library
from circuitsim.netlist.sky130 import prepared_library, tech_dir

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "netlists"


#: How golden decks write the technology directory.
TECH_PLACEHOLDER = "${CIRCUITSIM_TECH_DIR}"


def examples() -> Iterator[tuple[str, str]]:
    """(file name, deck text) for every block example, in registry order."""
    tech = f'"{os.path.realpath(tech_dir())}/'
    for block in blocks().values():
        for example, overrides in block.examples.items():
            deck = block.generate(specs.from_mapping(block.spec, overrides))
            yield f"{block.name}__{example}.cir", deck.replace(tech, f'"{TECH_PLACEHOLDER}/')


def runnable(deck: str) -> tuple[str, list[ModelLibrary]]:
    """A golden deck made runnable here: the technology placeholder replaced by this machine's
    prepared directory, and the vetted libraries its library line needs."""
    found = re.search(r'^\.lib "\$\{CIRCUITSIM_TECH_DIR\}/(\S+)" (\S+)$', deck, re.M)
    if not found:
        return deck, []
    root = prepared_library().parent.parent
    deck = deck.replace(TECH_PLACEHOLDER, os.path.realpath(root))
    return deck, [vet_library(root / found.group(1), found.group(2))]


def compare(directory: Path = GOLDEN_DIR) -> list[str]:
    """Names of golden files that are missing, differ, or are no longer generated."""
    expected = dict(examples())
    problems = [n for n, text in expected.items()
                if not (directory / n).exists() or (directory / n).read_bytes() != text.encode()]
    problems += sorted(p.name for p in directory.glob("*.cir") if p.name not in expected)
    return problems


def update(directory: Path = GOLDEN_DIR) -> list[str]:
    """Rewrite the golden decks; returns the names written. Stale ``*.cir`` files are removed."""
    from circuitsim.io import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    expected = dict(examples())
    for n, text in expected.items():
        write_atomic(directory / n, text)
    for stale in directory.glob("*.cir"):
        if stale.name not in expected:
            stale.unlink()
    return list(expected)
