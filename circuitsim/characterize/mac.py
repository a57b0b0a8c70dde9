"""MAC characterization: SPICE reads of crossbar tiles (16x16 ... 128x128 with wire resistance)
against the ideal ``G^T V``, forward and backward.

Every tile size in :attr:`MacCharSpec.tiles` is simulated with every conductance pattern of
:attr:`MacCharSpec.patterns` (one matrix per pattern, drawn in [g_min, g_max]):

- ``dense``: every device uniform in [g_min, g_max];
- ``sparse``: a fraction ``sparse_density`` of the devices uniform, the rest at g_min;
- ``extreme``: dense, then a fraction ``extreme_fraction`` of the rows and of the columns set
  wholly to g_max or to g_min (each at random);
- ``max``: every device at g_max (the largest IR drop the operating range allows).

Each matrix is read forward (rows driven, columns sensed) and backward (columns driven, rows
sensed) in one deck per direction, one read window per input vector. The input vectors of a
deck cycle through the kinds ``ones`` (all x = +1: the largest currents), ``uniform`` (x uniform
in [-1, 1]), ``sign`` (x = +-1 at random) and ``sparse`` (a fraction ``input_density`` of the
inputs uniform in [-1, 1], the rest 0).

The arrays are single-ended (physical matrices: a differential pair is the subtraction of
two physical columns, done by the caller), built from :class:`MacCircuit` in one of its read
modes (:mod:`~circuitsim.characterize.mac_circuit`: amplitude or pulse-width inputs, TIA or
integrator, 1R or 1T1R, wire R and C). The DC mode's timing does not change the numbers (no
wire capacitance; the sensing settles at once); it only sets the transient points per window,
which is what a read costs (measured: t_read = 10 ns, t_edge = t_reset = 1 ns gives 22 points
per window instead of 29 with tb_mac's defaults). Every read also records the energy its
drivers deliver and its latency. The held-out set adds ``stress`` cases that break DC models
(short pulses with large wire C, large wire C, a near-saturated integrator) on one tile.

Draws are reproducible: matrix and inputs of a (tile, pattern, direction) come from
``numpy.random.default_rng([seed, STREAM_FIT, rows, cols, pattern, direction])``; the held-out
draws of :mod:`circuitsim.surrogate.mac` use ``val_seed`` and ``STREAM_VAL``, so the two sets
never share a stream, even with equal seeds.

Cost (ngspice 46 + KLU, measured): a read window costs ~0.7 s on 64x64 and ~9 s on 128x128
with sinh cells (a 128x128 deck has ~3 s fixed cost), so the defaults give 128x128 decks few
windows; the default sweep (32 decks, 336 reads) ran in 133 s on 2 cores, QUICK in ~6 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim.characterize.common import run_points
from circuitsim.characterize.mac_circuit import READ_MODES, MacCircuit, ideal_read
from circuitsim.fidelity import Check
from circuitsim.netlist.tb_mac import MacTestbenchSpec
from circuitsim.phases.mac import MacResult, mac_point
from circuitsim.phases.records import Record
from circuitsim.spec import check_types, param, require, to_mapping

PATTERNS = ("dense", "sparse", "extreme", "max")
INPUT_KINDS = ("ones", "uniform", "sign", "sparse")
DIRECTIONS = ("forward", "backward")
STRESS = ("short_pulse", "large_wire_c", "near_saturated")
#: Wire capacitance per pitch of the stress cases: large enough for the wires of a 64x64 tile
#: (Elmore delay ~0.4 ns at 1 Ohm per pitch) not to settle within a 1 ns read.
STRESS_WIRE_C = 100e-15
#: Gap between the stress cases' reads: the wires' tails (~0.2 ns) die out before the next
#: read, which the surrogate (one read from rest) assumes.
STRESS_GAP = 5e-9
__all__ = ["READ_MODES", "MacCircuit", "ideal_read"]
STREAM_FIT = 0
STREAM_VAL = 1


def _check_names(items: tuple[str, ...], allowed: tuple[str, ...], field: str) -> None:
    require(len(items) > 0, field, items, "needs at least one name")
    bad = [s for s in items if s not in allowed]
    require(not bad, field, items, f"unknown {bad} (known: {', '.join(allowed)})")
    require(len(set(items)) == len(items), field, items, "names must not repeat")


def _sizes(rows: tuple[tuple[int, ...], ...], field: str) -> list[tuple[int, int, int]]:
    out = []
    for r in rows:
        require(len(r) == 3, field, r, "each entry is (rows, cols, vectors per deck)")
        n, m, b = (int(v) for v in r)
        require(2 <= n <= 256 and 2 <= m <= 256, field, r, "rows and cols must be in 2..256")
        require(1 <= b <= 64, field, r, "vectors per deck must be in 1..64")
        out.append((n, m, b))
    return out


@dataclass(frozen=True, slots=True)
class MacCharSpec:
    """The MAC characterization sweep and its held-out validation set (see module docstring).

    Full scale (FS) of every figure: the largest ideal output magnitude ``max |G^T V|`` over
    the reads of the group (tile size and direction) the figure is about.
    """

    circuit: MacCircuit = param(MacCircuit(), "the circuit every tile is built from")
    tiles: tuple[tuple[int, ...], ...] = param(
        ((16, 16, 16), (32, 32, 16), (64, 64, 8), (128, 128, 3)),
        "characterized tiles: (rows, cols, input vectors per deck)")
    patterns: tuple[str, ...] = param(("dense", "sparse", "extreme", "max"),
                                      "conductance patterns of the characterization")
    sparse_density: float = param(0.1, "fraction of devices above g_min in a sparse matrix")
    extreme_fraction: float = param(
        0.25, "fraction of rows and of columns forced to g_max or g_min in an extreme matrix")
    input_density: float = param(0.2, "fraction of non-zero inputs in a sparse input vector")
    seed: int = param(1, "seed of the characterization draws")
    val_tiles: tuple[tuple[int, ...], ...] = param(
        ((16, 16, 8), (32, 32, 8), (64, 64, 4), (128, 128, 2)),
        "held-out tiles: (rows, cols, input vectors per deck)")
    val_patterns: tuple[str, ...] = param(("dense", "sparse", "extreme"),
                                          "conductance patterns of the held-out tiles")
    layer: tuple[int, ...] = param(
        (192, 160, 3), "held-out full-size layer (rows, cols, input vectors), dense pattern, "
        "split into tiles no larger than the largest characterized tile; () = none")
    val_seed: int = param(2, "seed of the held-out draws (tiles and layer)")
    stress: tuple[str, ...] = param(
        ("short_pulse", "large_wire_c", "near_saturated"),
        "held-out cases that break DC models, read by the same surrogate at their timing: "
        "short_pulse (1 ns reads, or the shortest pulse-width grid, with large wire C), "
        "large_wire_c (100 fF per pitch), near_saturated (integrators only: c_int at 95 % of "
        "the swing, op-amp gain 50)")
    stress_tile: tuple[int, ...] = param(
        (64, 64, 4), "tile of the stress cases (rows, cols, input vectors); () = none")

    def __post_init__(self) -> None:
        check_types(self)
        require(self.seed >= 0, "seed", self.seed, "must be >= 0")
        require(self.val_seed >= 0, "val_seed", self.val_seed, "must be >= 0")
        for name in ("sparse_density", "extreme_fraction", "input_density"):
            v = getattr(self, name)
            require(0 < v <= 1, name, v, "must be in (0, 1]")
        require(len(self.tiles) > 0, "tiles", self.tiles, "needs at least one tile")
        require(len(self.val_tiles) > 0, "val_tiles", self.val_tiles, "needs at least one tile")
        _sizes(self.tiles, "tiles")
        _sizes(self.val_tiles, "val_tiles")
        _check_names(self.patterns, PATTERNS, "patterns")
        _check_names(self.val_patterns, PATTERNS, "val_patterns")
        if self.layer:
            require(len(self.layer) == 3 and all(v >= 2 for v in self.layer[:2])
                    and 1 <= self.layer[2] <= 64,
                    "layer", self.layer, "must be (rows >= 2, cols >= 2, vectors 1..64) or ()")
        bad = [s for s in self.stress if s not in STRESS]
        require(not bad, "stress", self.stress, f"unknown {bad} (known: {', '.join(STRESS)})")
        if self.stress_tile:
            _sizes((self.stress_tile,), "stress_tile")
        for field, sizes in (("tiles", self.tiles), ("val_tiles", self.val_tiles),
                             ("stress_tile", (self.stress_tile,) if self.stress_tile else ())):
            for r in sizes:  # a backward read sums a row of `cols` cells
                self.circuit.check_tile(max(int(r[0]), int(r[1])), field)

    def stress_circuits(self) -> list[tuple[str, MacCircuit]]:
        """The stress cases that apply to this circuit, each as its own circuit."""
        from dataclasses import replace

        c = self.circuit
        out = []
        for name in self.stress:
            if name == "short_pulse":
                edge = min(c.t_edge, 0.1e-9)
                t_read = edge * (2**c.pw_bits - 1) if c.encoding == "pulse_width" else 1e-9
                out.append((name, replace(c, t_read=t_read, t_edge=edge, t_reset=STRESS_GAP,
                                          c_row=STRESS_WIRE_C, c_col=STRESS_WIRE_C)))
            elif name == "large_wire_c":
                out.append((name, replace(c, c_row=STRESS_WIRE_C, c_col=STRESS_WIRE_C,
                                          t_reset=max(c.t_reset, STRESS_GAP))))
            elif c.sensing == "integrator" and self.stress_tile:
                n = max(int(v) for v in self.stress_tile[:2])
                c_int = c.v_read * c.g_max * n * c.t_area / (0.95 * c.v_swing)
                out.append((name, replace(c, c_int=c_int, opamp_gain=50.0)))
        return out

    @property
    def tile_list(self) -> list[tuple[int, int, int]]:
        return _sizes(self.tiles, "tiles")

    @property
    def val_tile_list(self) -> list[tuple[int, int, int]]:
        return _sizes(self.val_tiles, "val_tiles")

    @property
    def pattern_list(self) -> tuple[str, ...]:
        return self.patterns

    @property
    def val_pattern_list(self) -> tuple[str, ...]:
        return self.val_patterns

    @property
    def max_tile(self) -> tuple[int, int]:
        """Largest characterized tile (rows, cols): the tile size a layer is split into."""
        sizes = self.tile_list
        return max(n for n, _, _ in sizes), max(m for _, m, _ in sizes)


#: Small version for tests and CI: 16x16 and 32x32 tiles, a 48x40 layer of four tiles.
QUICK: dict[str, Any] = {
    "tiles": [[16, 16, 12], [32, 32, 12]],
    "patterns": ["dense", "sparse", "extreme", "max"],
    "val_tiles": [[16, 16, 6], [32, 32, 6]],
    "val_patterns": ["dense", "extreme"],
    "layer": [48, 40, 4],
    "stress_tile": [16, 16, 4],
}


# ---------------------------------------------------------------- draws


def stream(seed: int, kind: int, rows: int, cols: int, pattern: str,
           what: int) -> np.random.Generator:
    """The generator of one draw (``what``: 0 = matrix, 1 + k = inputs of direction k)."""
    return np.random.default_rng([seed, kind, rows, cols, PATTERNS.index(pattern), what])


def draw_conductances(spec: MacCharSpec, pattern: str, rows: int, cols: int,
                      rng: np.random.Generator) -> np.ndarray:
    """A rows x cols conductance matrix (S) of ``pattern`` (see the module docstring)."""
    lo, hi = spec.circuit.g_min, spec.circuit.g_max
    if pattern == "max":
        return np.full((rows, cols), hi)
    g = rng.uniform(lo, hi, (rows, cols))
    if pattern == "sparse":
        return np.where(rng.random((rows, cols)) < spec.sparse_density, g, lo)
    if pattern == "extreme":
        k_r = max(1, round(spec.extreme_fraction * rows))
        k_c = max(1, round(spec.extreme_fraction * cols))
        for i in rng.choice(rows, k_r, replace=False):
            g[i, :] = hi if rng.random() < 0.5 else lo
        for j in rng.choice(cols, k_c, replace=False):
            g[:, j] = hi if rng.random() < 0.5 else lo
    return g


def draw_inputs(spec: MacCharSpec, n_vectors: int, n: int,
                rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``n_vectors`` input vectors of length ``n`` in [-1, 1], kinds cycling INPUT_KINDS."""
    kinds = [INPUT_KINDS[k % len(INPUT_KINDS)] for k in range(n_vectors)]
    x = np.empty((n_vectors, n))
    for k, kind in enumerate(kinds):
        if kind == "ones":
            x[k] = 1.0
        elif kind == "uniform":
            x[k] = rng.uniform(-1.0, 1.0, n)
        elif kind == "sign":
            x[k] = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        else:
            x[k] = np.where(rng.random(n) < spec.input_density, rng.uniform(-1.0, 1.0, n), 0.0)
    return x, kinds


@dataclass(frozen=True, slots=True, eq=False)
class Deck:
    """One planned deck: its matrix, inputs and point (used by characterize and validate)."""

    rows: int
    cols: int
    pattern: str
    direction: str
    g: np.ndarray
    x: np.ndarray
    kinds: list[str]
    point: MacTestbenchSpec


def plan(spec: MacCharSpec, sizes: list[tuple[int, int, int]], patterns: tuple[str, ...],
         seed: int, kind: int) -> list[Deck]:
    """Every (tile, pattern, direction) deck of a sweep, drawn from ``seed``/``kind``."""
    decks = []
    for rows, cols, n_vec in sizes:
        for pattern in patterns:
            g = draw_conductances(spec, pattern, rows, cols,
                                  stream(seed, kind, rows, cols, pattern, 0))
            for d, direction in enumerate(DIRECTIONS):
                n = rows if direction == "forward" else cols
                x, kinds = draw_inputs(spec, n_vec, n, stream(seed, kind, rows, cols, pattern,
                                                              1 + d))
                decks.append(Deck(rows, cols, pattern, direction, g, x, kinds,
                                  spec.circuit.testbench(g, x, direction)))
    return decks


def run_decks(decks: list[Deck], *, store: Path | str | None, workers: int | None,
              scheduler: str | None, progress: bool, desc: str) -> list[MacResult]:
    """Simulate the decks, the largest first (better load balance), results in deck order."""
    cost = [d.rows * d.cols * (d.rows + d.cols) * (len(d.x) + 1) for d in decks]
    order = sorted(range(len(decks)), key=lambda k: -cost[k])
    results = run_points(mac_point, [decks[k].point for k in order], store=store,
                         workers=workers, scheduler=scheduler, progress=progress, desc=desc)
    out: list[Any] = [None] * len(decks)
    for k, res in zip(order, results, strict=True):
        out[k] = res
    return out


# ---------------------------------------------------------------- dataset


@dataclass(frozen=True, slots=True, eq=False)
class MacDataset(Record):
    """SPICE MAC reads. ``D`` decks (tile x pattern x direction), ``R`` reads (windows) in all;
    arrays are padded with NaN to the largest tile (``Nmax`` rows, ``Mmax`` cols,
    ``Pmax = max(Nmax, Mmax)`` driven or sensed lines). Currents are positive into the sense
    amplifier; forward reads drive rows and sense columns, backward reads the reverse."""

    deck_rows: np.ndarray  #: (D,) int, tile rows
    deck_cols: np.ndarray  #: (D,) int, tile (physical) columns
    deck_pattern: np.ndarray  #: (D,) str, conductance pattern
    deck_direction: np.ndarray  #: (D,) str, "forward" or "backward"
    conductances: np.ndarray  #: (D, Nmax, Mmax) S, the tile's matrix (NaN-padded)
    read_deck: np.ndarray  #: (R,) int, deck of each read
    read_kind: np.ndarray  #: (R,) str, input kind (ones, uniform, sign, sparse)
    inputs: np.ndarray  #: (R, Pmax) x in [-1, 1] per driven line (NaN-padded)
    currents: np.ndarray  #: (R, Pmax) A, SPICE read in ampere equivalents (mac_circuit; NaN-pad)
    ideal: np.ndarray  #: (R, Pmax) A, ideal G^T V (forward) or G V (backward), V = x v_read
    energy: np.ndarray  #: (R,) J, energy the input drivers deliver per read (its window)
    latency: np.ndarray  #: (R,) s, TIA: settling of the slowest output; integrator: window
    spec_json: str  #: the MacCharSpec as JSON
    ngspice_version: str

    def spec(self) -> MacCharSpec:
        from circuitsim.spec import from_mapping

        return from_mapping(MacCharSpec, json.loads(self.spec_json))

    def deck_g(self, k: int) -> np.ndarray:
        """The matrix of deck ``k``, (rows, cols) S."""
        return np.asarray(self.conductances[k, :self.deck_rows[k], :self.deck_cols[k]])

    def deck_reads(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs ``(B, n_driven)``, SPICE currents and ideal currents ``(B, n_sensed)``."""
        sel = self.read_deck == k
        n, m = int(self.deck_rows[k]), int(self.deck_cols[k])
        p, s = (n, m) if self.deck_direction[k] == "forward" else (m, n)
        return (np.asarray(self.inputs[sel, :p]), np.asarray(self.currents[sel, :s]),
                np.asarray(self.ideal[sel, :s]))

    def groups(self) -> list[tuple[int, int, str]]:
        """(rows, cols, direction) groups in first-seen order."""
        seen: dict[tuple[int, int, str], None] = {}
        for n, m, d in zip(self.deck_rows, self.deck_cols, self.deck_direction, strict=True):
            seen[(int(n), int(m), str(d))] = None
        return list(seen)


def build_dataset(spec: MacCharSpec, decks: list[Deck], results: list[MacResult]) -> MacDataset:
    """Pack planned decks and their results into a :class:`MacDataset`."""
    n_max = max(d.rows for d in decks)
    m_max = max(d.cols for d in decks)
    p_max = max(n_max, m_max)
    n_reads = sum(len(d.x) for d in decks)
    g = np.full((len(decks), n_max, m_max), np.nan)
    x = np.full((n_reads, p_max), np.nan)
    cur = np.full((n_reads, p_max), np.nan)
    ideal = np.full((n_reads, p_max), np.nan)
    energy = np.empty(n_reads)
    latency = np.empty(n_reads)
    read_deck = np.empty(n_reads, dtype=np.int64)
    kinds: list[str] = []
    r = 0
    for k, (d, res) in enumerate(zip(decks, results, strict=True)):
        g[k, :d.rows, :d.cols] = d.g
        b = len(d.x)
        x[r:r + b, :d.x.shape[1]] = res.inputs
        cur[r:r + b, :res.currents.shape[1]] = spec.circuit.readout(res)
        ideal[r:r + b, :res.currents.shape[1]] = ideal_read(d.g, res.inputs, d.direction,
                                                             spec.circuit.v_read)
        energy[r:r + b] = res.energy
        latency[r:r + b] = res.latency
        read_deck[r:r + b] = k
        kinds += d.kinds
        r += b
    return MacDataset(
        deck_rows=np.array([d.rows for d in decks]), deck_cols=np.array([d.cols for d in decks]),
        deck_pattern=np.array([d.pattern for d in decks]),
        deck_direction=np.array([d.direction for d in decks]), conductances=g,
        read_deck=read_deck, read_kind=np.array(kinds), inputs=x, currents=cur, ideal=ideal,
        energy=energy, latency=latency,
        spec_json=json.dumps(to_mapping(spec)), ngspice_version=results[0].ngspice_version)


def characterize(spec: MacCharSpec, *, store: Path | str | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 progress: bool = True) -> MacDataset:
    """Simulate every characterization deck of ``spec`` (see the module docstring)."""
    decks = plan(spec, spec.tile_list, spec.pattern_list, spec.seed, STREAM_FIT)
    results = run_decks(decks, store=store, workers=workers, scheduler=scheduler,
                        progress=progress, desc="characterize mac")
    return build_dataset(spec, decks, results)


# ---------------------------------------------------------------- summary


def error_stats(err: np.ndarray, ideal: np.ndarray) -> tuple[float, float, float]:
    """(RMS % FS, max % FS, FS in A) with FS = max |ideal| over the group."""
    fs = float(np.max(np.abs(ideal)))
    fs = fs if fs > 0 else 1.0
    return (100 * float(np.sqrt(np.mean(err**2))) / fs, 100 * float(np.max(np.abs(err))) / fs,
            fs)


def group_arrays(ds: MacDataset, rows: int, cols: int,
                 direction: str) -> tuple[np.ndarray, np.ndarray]:
    """SPICE and ideal currents of a group, flattened (valid entries only)."""
    spice, ideal = [], []
    for k in np.flatnonzero((ds.deck_rows == rows) & (ds.deck_cols == cols)
                            & (ds.deck_direction == direction)):
        _, i_s, i_id = ds.deck_reads(int(k))
        spice.append(i_s.ravel())
        ideal.append(i_id.ravel())
    return np.concatenate(spice), np.concatenate(ideal)


def summary(ds: MacDataset) -> list[Check]:
    """Per tile size and direction: how far SPICE is from the ideal G^T V (RMS and max, % of
    the group's full scale FS = max |ideal|), and the mean relative deviation of the all-ones
    reads, (SPICE - ideal) / ideal: the sinh read law adds (+2.7 % at 0.2 V, V0 = 0.5 V),
    the IR drop takes away."""
    checks = []
    for rows, cols, direction in ds.groups():
        spice, ideal = group_arrays(ds, rows, cols, direction)
        rms, mx, fs = error_stats(spice - ideal, ideal)
        label = f"{rows}x{cols} {direction}"
        detail = f"SPICE vs ideal G^T V; FS = max|ideal| = {fs:.4g} A over {spice.size} outputs"
        checks.append(Check(f"mac {label} ideal-model RMS error", rms, "% FS", detail=detail))
        checks.append(Check(f"mac {label} ideal-model max error", mx, "% FS", detail=detail))
        ones = []
        for k in np.flatnonzero((ds.deck_rows == rows) & (ds.deck_cols == cols)
                                & (ds.deck_direction == direction)):
            sel = ds.read_kind[ds.read_deck == k] == "ones"
            _, i_s, i_id = ds.deck_reads(int(k))
            if sel.any():
                ones.append((i_s[sel] / i_id[sel] - 1).ravel())
        if ones:
            checks.append(Check(f"mac {label} all-ones mean deviation",
                                100 * float(np.mean(np.concatenate(ones))), "%",
                                detail="mean of I_spice / I_ideal - 1 over all-ones reads"))
    return checks
