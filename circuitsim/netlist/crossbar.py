"""Resistive crossbar array: 1R or 1T1R cells, optional differential column pairs, wire parasitics.

Topology (forward read): row ``i`` is driven at its left port ``row_i``; each row wire has one
segment of resistance ``r_row`` (and capacitance ``c_row`` to ground at its far node) before
every cell, so cell ``(i, j)`` sits ``j + 1`` segments from the driver. Column ``j`` is sensed at
its bottom port ``col_j``; cell ``(i, j)`` sits ``rows - i`` segments of ``r_col`` above it.
A backward (transposed) read drives the ``col_j`` ports and senses the ``row_i`` ports.

With ``differential=True`` every logical column ``j`` is a pair of physical columns ``2j`` (G+)
and ``2j + 1`` (G−); the effective weight is ``G[:, 0::2] − G[:, 1::2]``.

Cell read models (see models/README.md): ``linear`` is a resistor ``1/G``; ``sinh`` is the
usual RRAM/PCM read nonlinearity ``I = G·V0·sinh(V/V0)`` (small-signal conductance ``G``).
A 1T1R cell puts an NMOS access transistor (gate on word line ``wl_i``) between the device and
the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from circuitsim.netlist import elements as el
from circuitsim.netlist.block import Block
from circuitsim.netlist.deck import render
from circuitsim.netlist.fmt import num
from circuitsim.netlist.technology import (
    TechnologySpec,
    check_sizes,
    mosfet_lines,
    render_args,
)
from circuitsim.spec import (
    G_FLOOR,
    check_types,
    non_negative,
    param,
    positive,
    require,
    short,
)


@dataclass(frozen=True, slots=True)
class CrossbarSpec:
    """A rows × cols crossbar array (the ``crossbar`` subcircuit)."""

    rows: int = param(4, "number of rows (word lines, inputs of a forward read)")
    cols: int = param(4, "number of logical columns (outputs of a forward read)")
    cell: Literal["1R", "1T1R"] = param("1R", "cell type: bare device, or device + NMOS access FET")
    differential: bool = param(False, "each logical column is a G+/G- pair of physical columns")
    r_row: float = param(0.0, "row wire resistance per cell pitch (0 = ideal wire)", "Ohm")
    r_col: float = param(0.0, "column wire resistance per cell pitch (0 = ideal wire)", "Ohm")
    c_row: float = param(0.0, "row wire capacitance to ground per cell pitch", "F")
    c_col: float = param(0.0, "column wire capacitance to ground per cell pitch", "F")
    conductances: tuple[tuple[float, ...], ...] | None = param(
        None, "explicit rows x physical-columns conductance matrix; None = draw from g_seed", "S")
    g_min: float = param(1e-6, "lowest device conductance", "S")
    g_max: float = param(1e-4, "highest device conductance", "S")
    g_distribution: Literal["uniform", "binary"] = param(
        "uniform", "how drawn conductances are distributed within [g_min, g_max]")
    g_seed: int = param(0, "seed of the drawn conductance matrix")
    iv: Literal["linear", "sinh"] = param("linear", "device read I-V: linear, or I=G*V0*sinh(V/V0)")
    iv_v0: float = param(0.5, "characteristic voltage V0 of the sinh read model", "V")
    access_w: float = param(1e-6, "1T1R access NMOS channel width", "m")
    access_l: float = param(45e-9, "1T1R access NMOS channel length", "m")
    technology: TechnologySpec = param(
        TechnologySpec(), "the 1T1R access transistor's technology (ptm45, sky130, custom); "
                          "sky130 needs access_l >= 0.15e-6")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "rows", "cols", "g_max", "iv_v0", "access_w", "access_l")
        non_negative(self, "r_row", "r_col", "c_row", "c_col", "g_seed")
        if self.cell == "1T1R":
            check_sizes(self.technology, {"access_w": self.access_w,
                                          "access_l": self.access_l}, 0.0)
        require(self.g_min >= G_FLOOR, "g_min", self.g_min, f"must be >= {G_FLOOR:g} S")
        require(self.g_min < self.g_max, "g_min", self.g_min, f"must be < g_max={self.g_max!r}")
        require(self.rows * self.phys_cols <= 512 * 512, "rows", self.rows,
                f"an array of {short(self.rows)} x {short(self.phys_cols)} cells exceeds 262144 "
                "cells")
        if self.conductances is not None:
            shape = (len(self.conductances), {len(r) for r in self.conductances})
            require(shape == (self.rows, {self.phys_cols}), "conductances",
                    f"{shape[0]} rows of lengths {sorted(shape[1])}",
                    f"must be {self.rows} rows x {self.phys_cols} columns")
            flat = [g for r in self.conductances for g in r]
            bad = next((g for g in flat if not g >= G_FLOOR), None)
            require(bad is None, "conductances", bad, f"every conductance must be >= {G_FLOOR:g} S")

    @property
    def phys_cols(self) -> int:
        """Physical columns: ``2 * cols`` for differential pairs, else ``cols``."""
        return 2 * self.cols if self.differential else self.cols


def conductance_matrix(spec: CrossbarSpec) -> np.ndarray:
    """The rows × physical-columns conductance matrix (S) the deck is built from."""
    if spec.conductances is not None:
        return np.array(spec.conductances, dtype=float)
    rng = np.random.default_rng(spec.g_seed)
    shape = (spec.rows, spec.phys_cols)
    if spec.g_distribution == "binary":
        return np.where(rng.random(shape) < 0.5, spec.g_min, spec.g_max)
    return rng.uniform(spec.g_min, spec.g_max, size=shape)


def weight_matrix(spec: CrossbarSpec) -> np.ndarray:
    """Effective rows × cols weight in siemens (``G+ − G−`` for differential pairs)."""
    g = conductance_matrix(spec)
    return g[:, 0::2] - g[:, 1::2] if spec.differential else g


def ports(spec: CrossbarSpec) -> list[str]:
    """Subcircuit ports in order: rows, physical columns, then word lines (1T1R only)."""
    out = [f"row_{i}" for i in range(spec.rows)] + [f"col_{j}" for j in range(spec.phys_cols)]
    if spec.cell == "1T1R":
        out += [f"wl_{i}" for i in range(spec.rows)]
    return out


def _row_node(spec: CrossbarSpec, i: int, j: int) -> str:
    return f"r{i}_{j}" if spec.r_row > 0 else f"row_{i}"


def _col_node(spec: CrossbarSpec, i: int, j: int) -> str:
    return f"c{i}_{j}" if spec.r_col > 0 else f"col_{j}"


def _wires(spec: CrossbarSpec) -> list[str]:
    lines: list[str] = []
    if spec.r_row > 0:
        lines.append(el.comment(f"row wires: {num(spec.r_row)} Ohm per segment"))
        for i in range(spec.rows):
            prev = f"row_{i}"
            for j in range(spec.phys_cols):
                node = f"r{i}_{j}"
                lines.append(el.resistor(f"Rr{i}_{j}", prev, node, spec.r_row))
                if spec.c_row > 0:
                    lines.append(el.capacitor(f"Cr{i}_{j}", node, "0", spec.c_row))
                prev = node
    if spec.r_col > 0:
        lines.append(el.comment(f"column wires: {num(spec.r_col)} Ohm per segment"))
        for j in range(spec.phys_cols):
            for i in range(spec.rows):
                node = f"c{i}_{j}"
                below = f"c{i + 1}_{j}" if i + 1 < spec.rows else f"col_{j}"
                lines.append(el.resistor(f"Rc{i}_{j}", node, below, spec.r_col))
                if spec.c_col > 0:
                    lines.append(el.capacitor(f"Cc{i}_{j}", node, "0", spec.c_col))
    return lines


def _cells(spec: CrossbarSpec) -> list[str]:
    g = conductance_matrix(spec)
    lines = [el.comment(f"cells: {spec.cell}, {spec.iv} read model")]
    for i in range(spec.rows):
        for j in range(spec.phys_cols):
            top, bottom = _row_node(spec, i, j), _col_node(spec, i, j)
            device_end = f"m{i}_{j}" if spec.cell == "1T1R" else bottom
            if spec.iv == "linear":
                lines.append(el.resistor(f"Rg{i}_{j}", top, device_end, 1.0 / g[i, j]))
            else:
                v0 = num(spec.iv_v0)
                expr = f"{num(g[i, j] * spec.iv_v0)}*sinh(v({top},{device_end})/{v0})"
                lines.append(el.bcurrent(f"Bg{i}_{j}", top, device_end, expr))
            if spec.cell == "1T1R":
                lines += mosfet_lines(spec.technology, f"Ma{i}_{j}", device_end, f"wl_{i}",
                                      bottom, "0", "n", spec.access_w, spec.access_l)
    return lines


def subckt_lines(spec: CrossbarSpec) -> list[str]:
    doc = (f"crossbar {spec.rows}x{spec.phys_cols} physical ({spec.cell}, "
           f"{'differential' if spec.differential else 'single-ended'}, {spec.iv} read)")
    return el.subckt("crossbar", ports(spec), [*_wires(spec), *_cells(spec)], doc)


def models(spec: CrossbarSpec) -> dict[str, Any]:
    """The :func:`~circuitsim.netlist.deck.render` arguments that bring in the access
    transistors of a 1T1R array (none for 1R)."""
    return render_args(spec.technology) if spec.cell == "1T1R" else {}


def header(spec: CrossbarSpec) -> list[str]:
    pairs = f" (differential pairs: {spec.phys_cols} physical columns)" if spec.differential else ""
    return [
        f"array: {spec.rows} rows x {spec.cols} columns{pairs}",
        f"cell {spec.cell}, read model {spec.iv}"
        + (f" (V0 = {num(spec.iv_v0)} V)" if spec.iv == "sinh" else ""),
        f"wires: r_row {num(spec.r_row)} Ohm, r_col {num(spec.r_col)} Ohm, "
        f"c_row {num(spec.c_row)} F, c_col {num(spec.c_col)} F per cell pitch",
        "conductances: " + ("explicit matrix" if spec.conductances is not None else
                            f"{spec.g_distribution} in [{num(spec.g_min)}, {num(spec.g_max)}] S, "
                            f"seed {spec.g_seed}"),
    ]


def deck(spec: CrossbarSpec) -> str:
    """Subcircuit library deck (include it from a testbench; it has no analysis)."""
    return render("circuitsim block: crossbar (subcircuit library)", header(spec),
                  subckt_lines(spec), **models(spec))


BLOCKS = [
    Block("crossbar", CrossbarSpec, deck, "resistive crossbar array subcircuit", "block", {
        "default": {},
        "1t1r_sinh_wires": {"cell": "1T1R", "iv": "sinh", "rows": 3, "cols": 2,
                            "r_row": 2.5, "r_col": 2.5, "c_row": 1e-16, "c_col": 1e-16},
        "1t1r_sky130": {"cell": "1T1R", "rows": 2, "cols": 2, "access_w": 1e-6,
                        "access_l": 0.15e-6, "technology": {"name": "sky130"}},
        "differential": {"rows": 3, "cols": 2, "differential": True, "r_row": 1.0, "r_col": 1.0},
    }),
]
