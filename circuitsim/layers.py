"""The package's layers, lowest first: the one-way flow spec → deck → run → result → phases →
characterize → surrogate → train → reproduce → command line.

A module may import from its own layer and the layers below it, never from a layer above, and
no import cycle is allowed at all; ``tests/test_layers.py`` checks every import statement
(those inside functions too) against this table. An entry names one module
(``circuitsim.sweep``) or, ending in ``.*``, a package and everything in it
(``circuitsim.spice.*`` covers ``circuitsim.spice`` and ``circuitsim.spice.pool``).

This module is data only and imports nothing; nothing in the package imports it.
"""

from __future__ import annotations

#: (layer name, module name prefixes), lowest layer first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # values and helpers every layer uses: the version, the errors, atomic writes, frozen
    # specs, activation functions (a netlist input), checks (a figure and its bound)
    # run directories and code fingerprints (cache keys)
    ("base", ("circuitsim._version", "circuitsim.errors", "circuitsim.io", "circuitsim.spec",
              "circuitsim.activations", "circuitsim.fidelity", "circuitsim.layers",
              "circuitsim.rundirs", "circuitsim.fingerprint")),
    # pure spec -> deck text generators, and spec variation (Monte-Carlo draws of spec fields)
    ("netlist", ("circuitsim.netlist.*", "circuitsim.montecarlo")),
    # running decks, their results and waveform integrals; plotting of results
    ("spice", ("circuitsim.spice.*", "circuitsim.plots")),
    # a phase's testbench run into a typed record (MAC read, 3T1C update, ramp conversion)
    ("phases", ("circuitsim.phases.*",)),
    # the energy report of phase results
    ("energy", ("circuitsim.energy",)),
    # resumable sweeps of a function over points, and their result store
    ("sweep", ("circuitsim.store", "circuitsim.sweep")),
    # SPICE sweeps -> datasets
    ("characterize", ("circuitsim.characterize.*",)),
    # datasets -> fitted, cached, validated surrogates
    ("surrogate", ("circuitsim.surrogate.*",)),
    # networks trained through the surrogates
    ("train", ("circuitsim.train.*", "circuitsim.train_names")),
    # the papers' experiments at our scale
    ("reproduce", ("circuitsim.reproduce.*",)),
    # what users call: the command line, the demo, the package's lazy public API
    ("interface", ("circuitsim.cli", "circuitsim.harness_cli", "circuitsim.surrogate_cli",
                   "circuitsim.train_cli", "circuitsim.demo", "circuitsim")),
)


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of ``module`` (a dotted name), ``None`` if no entry covers it."""
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            package = entry.removesuffix(".*")
            if module == package or (entry.endswith(".*") and module.startswith(package + ".")):
                return index
    return None
