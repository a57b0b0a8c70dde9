"""An independent nodal solve (scipy.sparse) of a resistive crossbar with wire resistance.

Written from the physical description only (drivers at the row starts, cells between row and
column wires, virtual grounds at the column ends), not from the netlist generator, so it can
check what ngspice computes from the generated deck.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def crossbar_currents(g: np.ndarray, v_drive: np.ndarray, r_row: float, r_col: float,
                      backward: bool = False) -> np.ndarray:
    """Currents into the virtual grounds at the sensed ends (A).

    Forward: rows driven at their left ends with ``v_drive`` (len rows), columns sensed at their
    bottom ends. Backward: columns driven at their bottom ends, rows sensed at their left ends.
    """
    n_r, n_c = g.shape
    rid = lambda i, j: i * n_c + j  # noqa: E731  row-wire node at cell (i, j)
    cid = lambda i, j: n_r * n_c + i * n_c + j  # noqa: E731  column-wire node at cell (i, j)
    n = 2 * n_r * n_c
    rows, cols, vals = [], [], []
    rhs = np.zeros(n)

    def conductance(a: int, b: int | None, gab: float, v_fixed: float = 0.0) -> None:
        """Stamp gab between unknown node a and unknown b (or a fixed voltage if b is None)."""
        rows.append(a), cols.append(a), vals.append(gab)
        if b is None:
            rhs[a] += gab * v_fixed
        else:
            rows.extend([b, a, b]), cols.extend([b, b, a]), vals.extend([gab, -gab, -gab])

    for i in range(n_r):
        v_left = 0.0 if backward else v_drive[i]
        conductance(rid(i, 0), None, 1.0 / r_row, v_left)
        for j in range(n_c - 1):
            conductance(rid(i, j), rid(i, j + 1), 1.0 / r_row)
    for j in range(n_c):
        v_bottom = v_drive[j] if backward else 0.0
        conductance(cid(n_r - 1, j), None, 1.0 / r_col, v_bottom)
        for i in range(n_r - 1):
            conductance(cid(i, j), cid(i + 1, j), 1.0 / r_col)
    for i in range(n_r):
        for j in range(n_c):
            conductance(rid(i, j), cid(i, j), g[i, j])
    a = sp.csc_matrix((vals, (rows, cols)), shape=(n, n))
    v = spla.spsolve(a, rhs)
    if backward:
        return np.array([v[rid(i, 0)] / r_row for i in range(n_r)])
    return np.array([v[cid(n_r - 1, j)] / r_col for j in range(n_c)])
