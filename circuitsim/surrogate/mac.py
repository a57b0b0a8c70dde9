"""MAC surrogate: the non-ideal crossbar transfer (IR drop, read non-linearity) for any layer.

Model. A tile is a rows x cols 1R array; row ``i`` is driven at its column-0 end (cell
``(i, j)`` is ``j + 1`` row segments ``r_row`` from the driver), column ``j`` is sensed at its
bottom (cell ``(i, j)`` is ``rows - i`` segments ``r_col`` above the sense node). For linear
devices and ideal virtual grounds the array is a linear reciprocal network: the forward read is
``I = T^T V`` and the backward read (columns driven, rows sensed) ``I = T V`` with one
input-independent transfer ``T(G)``. Writing ``a`` (``b``) for the fractional loss a cell's
current suffers along its row (column) wire,

- ``first_order``: ``a = r_row * cumsum_j(revcumsum_j(G))``, ``b = r_col *
  revcumsum_i(cumsum_i(G))`` (first order in the wire resistances, O(N M) with cumsums);
- ``ladder``: ``a``, ``b`` from the exact solve of each row (column) wire alone as a resistive
  ladder loaded by its cells (one O(N M) recursion), ``T = G (1 - a)(1 - b)``; this is exact in
  ``r_row`` and in ``r_col`` separately and misses only the row-column cross terms.

The read law ``I = G V0 sinh(V / V0)`` enters as the input transform ``F = V0 sinh(V / V0)``
plus, to first order in the IR drop, the term ``-(F (cosh(V / V0) - 1)) @ (G (a + b))``: the
drop lowers a cell's voltage and the current falls with the device slope ``cosh``, not 1.
Together, with ``H = F (cosh(V / V0) - 1)`` (0 for linear devices)::

    forward:  I = s_col * (F @ T + H @ L)      backward:  I = s_row * (F @ T^T + H @ L^T)
    T = G * P(a, b),  L = G * Q(a, b),  P, Q polynomials in a, b of degree 2

The finite op-amp gain puts ``r_foot = r_f / (1 + gain)`` in series with every sensed line:
``s = 1 / (1 + r_foot * sum_line(T))`` per sensed line and tile (1 for an ideal op-amp).
Physics coefficients: ``first_order`` ``P = 1 - a - b``, ``Q = 0``; ``ladder`` ``P = (1 - a)
(1 - b)``, ``Q = -(a + b)``. The learned forms (``*_ls``) fit all coefficients of ``P`` and
``Q`` on the monomials ``1, a, b, a^2, ab, b^2`` by least squares on the SPICE dataset (with
``a``, ``b`` of their basis). :func:`~circuitsim.surrogate.mac_fit.fit` compares the forms by
two-fold cross-validation over the dataset's matrices and keeps the best; the comparison is in
:meth:`MacSurrogate.info`.

Layers. A layer larger than the largest characterized tile is split into balanced tiles (each
dimension into ``ceil(n / tile)`` nearly equal parts), each its own array with drivers and sense
amplifiers; partial sums are added. :meth:`MacSurrogate.layer` returns a
:class:`~circuitsim.surrogate.mac_layer.MacLayer` for
training: ``forward``/``backward`` are one or two matrix products over the whole layer (the
tiles' ``T`` sit in one matrix; with a finite op-amp gain one product per tile row/column), and
``apply_delta`` updates ``T`` and ``L`` in place (``T += dG * P``) with ``P``, ``Q`` and ``s``
refreshed every ``refresh_every`` updates or on :meth:`MacLayer.refresh`.

Fidelity (:func:`~circuitsim.surrogate.mac_validate.validate`): full scale FS of a group (tile
size and direction, or the layer and direction) is the largest ideal output ``max |G^T V|``
over that group's held-out reads.

This module holds the fitted model (what training and the cache load); the layer on its tiles
is in :mod:`~circuitsim.surrogate.mac_layer`, fitting in :mod:`~circuitsim.surrogate.mac_fit`,
validation in :mod:`~circuitsim.surrogate.mac_validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from circuitsim.characterize import mac as cm
from circuitsim.errors import CacheError, SpecError
from circuitsim.surrogate import ladder_kernel
from circuitsim.surrogate import mac_timing as tm
from circuitsim.surrogate.mac_layer import MacLayer

MONOMIALS = ("1", "a", "b", "aa", "ab", "bb")
BASES = ("first_order", "ladder")
FORMS = ("first_order", "ladder", "first_order_ls", "ladder_ls")
#: Physics coefficients (P, Q) of each basis on MONOMIALS.
PHYSICS = {
    "first_order": ((1.0, -1.0, -1.0, 0.0, 0.0, 0.0), (0.0,) * 6),
    "ladder": ((1.0, -1.0, -1.0, 0.0, 1.0, 0.0), (0.0, -1.0, -1.0, 0.0, 0.0, 0.0)),
}
RIDGE = 1e-6  #: ridge on unit-norm feature columns of the least-squares correction


# ---------------------------------------------------------------- physics building blocks


def _ladder_loss(g: np.ndarray, r: float) -> np.ndarray:
    """Loss ``1 - v`` along the last axis: a wire driven at index 0 through ``r`` per segment,
    a segment before every node, node ``k`` loaded by ``g[..., k]`` to ground (exact).
    Compiled (:func:`ladder_kernel.ladder_loss`, bitwise equal) for float64 ``g``."""
    if g.dtype == np.float64 and g.size:
        return ladder_kernel.ladder_loss(g, r)
    return _ladder_loss_numpy(g, r)


def _ladder_loss_numpy(g: np.ndarray, r: float) -> np.ndarray:
    """:func:`_ladder_loss` in numpy (the compiled kernel's reference)."""
    m = g.shape[-1]
    y = np.empty_like(g)
    y[..., m - 1] = g[..., m - 1]
    for k in range(m - 2, -1, -1):
        nxt = y[..., k + 1]
        y[..., k] = g[..., k] + nxt / (1.0 + r * nxt)
    return 1.0 - np.cumprod(1.0 / (1.0 + r * y), axis=-1)


def losses(g: np.ndarray, r_row: float, r_col: float, basis: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column loss fractions ``(a, b)`` of every cell, shape of ``g`` (``(..., n, m)``)."""
    if basis == "first_order":
        a = r_row * np.cumsum(np.cumsum(g[..., ::-1], axis=-1)[..., ::-1], axis=-1)
        b = r_col * np.cumsum(np.cumsum(g, axis=-2)[..., ::-1, :], axis=-2)[..., ::-1, :]
        return a, b
    if basis == "ladder":
        a = _ladder_loss(g, r_row)
        flipped = np.swapaxes(g[..., ::-1, :], -1, -2)  # column sensed at the bottom row
        b = np.swapaxes(_ladder_loss(flipped, r_col), -1, -2)[..., ::-1, :]
        return a, b
    raise SpecError(f"basis={basis!r}: must be one of {', '.join(BASES)}")


def monomials(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The MONOMIALS of ``a``, ``b`` stacked on a new first axis."""
    return np.stack([np.ones_like(a), a, b, a * a, a * b, b * b])


def poly(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_k c_k monomial_k(a, b)``."""
    return c[0] + c[1] * a + c[2] * b + c[3] * a * a + c[4] * a * b + c[5] * b * b


# ---------------------------------------------------------------- the surrogate


_FLOATS = ("v_read", "iv_v0", "r_row", "r_col", "r_foot", "g_min", "g_max", "fit_rms",
           "c_row", "c_col", "t_read", "t_edge", "c_int", "gain", "r_acc", "energy_scale",
           "t_window")
_INTS = ("tile_rows", "tile_cols", "pw_bits", "timed")
_STRS = ("form", "basis", "iv", "spec_json", "ngspice_version", "encoding", "sensing")
_VECS = ("p", "q")
_TABLE = ("model_names", "cv_rms_worst", "cv_rms_mean", "cv_max")


@dataclass(frozen=True, slots=True, eq=False)
class MacSurrogate:
    """Fitted MAC transfer model (see the module docstring). Currents in A, inputs in [-1, 1]
    (drive ``x * v_read``), conductances in S."""

    form: str  #: chosen model form (one of FORMS)
    basis: str  #: "first_order" or "ladder": how a, b are computed
    p: np.ndarray  #: (6,) coefficients of P on MONOMIALS
    q: np.ndarray  #: (6,) coefficients of Q on MONOMIALS (non-linear IR term)
    v_read: float  #: V, drive of x = 1
    iv: str  #: "linear" or "sinh" read law
    iv_v0: float  #: V, sinh characteristic voltage
    r_row: float  #: Ohm per cell pitch
    r_col: float  #: Ohm per cell pitch
    r_foot: float  #: Ohm, op-amp virtual-ground series resistance r_f / (1 + gain) (0 ideal)
    g_min: float  #: S, characterized range
    g_max: float  #: S
    tile_rows: int  #: largest tile rows (layers are split into tiles no larger)
    tile_cols: int  #: largest tile columns
    fit_rms: float  #: % FS, in-sample RMS error of the chosen form (worst group)
    model_names: np.ndarray  #: (K,) str, compared forms (plus "ideal")
    cv_rms_worst: np.ndarray  #: (K,) % FS, cross-validated RMS error, worst group
    cv_rms_mean: np.ndarray  #: (K,) % FS, cross-validated RMS error, mean over groups
    cv_max: np.ndarray  #: (K,) % FS, cross-validated max error over all groups
    spec_json: str  #: the MacCharSpec of the dataset
    ngspice_version: str
    # read mode (characterize.mac_circuit; the time-domain physics is in mac_timing)
    encoding: str = "amplitude"  #: "amplitude" or "pulse_width"
    sensing: str = "tia"  #: "tia" or "integrator"
    pw_bits: int = 7  #: pulse-width DAC resolution
    t_read: float = 10e-9  #: s, read plateau (full-scale pulse)
    t_edge: float = 1e-9  #: s, input edges
    c_int: float = 12e-12  #: F, integrator capacitance
    gain: float = 0.0  #: op-amp open-loop gain (0 = ideal)
    c_row: float = 0.0  #: F per pitch
    c_col: float = 0.0  #: F per pitch
    r_acc: float = 0.0  #: Ohm, 1T1R access transistor's fitted on-resistance (0 for 1R)
    timed: int = 0  #: 1 = wire settling and integrator droop/gain in the model, 0 = DC model
    energy_scale: float = 1.0  #: SPICE driver energy / read_energy's physics (dataset mean)
    t_window: float = 0.0  #: s, latency of one read (window incl. edges and reset)

    # ------------------------------------------------------------ tile model

    @property
    def line_scaled(self) -> bool:
        """Whether sensed lines carry their own scale (finite-gain TIA foot, or a timed
        finite-gain integrator), so arrays cannot share one transfer."""
        return self.r_foot > 0 or bool(self.timed and self.sensing == "integrator"
                                       and self.gain > 0)

    @property
    def plain_ladder(self) -> bool:
        """Whether :meth:`tile_model`'s ``P`` is the polynomial of the ladder losses alone (no
        access transistor, wire settling or line scales): the compiled
        :func:`~circuitsim.surrogate.ladder_kernel.tiles_transfer` computes it."""
        return (self.basis == "ladder" and self.r_acc == 0 and not self.line_scaled
                and not (self.timed and (self.c_row > 0 or self.c_col > 0)))

    @property
    def pulse_droop(self) -> bool:
        """Whether reads have the input-weighted droop term (pulse widths, timed, finite gain)."""
        return self.line_scaled and self.encoding == "pulse_width" and self.r_foot == 0

    def cell_scale(self, g: np.ndarray) -> np.ndarray:
        """Per cell, what the access transistor (``G_eff / G``) and wire settling leave of the
        DC transfer, shape of ``g``."""
        out = 1.0 / (1.0 + g * self.r_acc) if self.r_acc > 0 else np.ones_like(g)
        if self.timed and (self.c_row > 0 or self.c_col > 0):
            n, m = g.shape[-2:]
            taus = tm.cell_tau(n, m, self.r_row, self.c_row, self.r_col, self.c_col)
            out = out * tm.settle_factor(*taus, self.sensing, self.t_read, self.t_edge)
        return out

    def line_scales(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                  np.ndarray | None]:
        """``(s_fwd, s_bwd, k_fwd, k_bwd)`` of transfer ``t`` ``(..., n, m)``: the scale of each
        sensed line (forward ``(..., m)``, backward ``(..., n)``) and, with :attr:`pulse_droop`,
        the weight of the droop product (else None)."""
        sums = (t.sum(axis=-2), t.sum(axis=-1))
        s = [1.0 / (1.0 + self.r_foot * x) for x in sums]
        if not (self.timed and self.sensing == "integrator" and self.gain > 0):
            return s[0], s[1], None, None
        gam = tm.output_gain(self.gain)
        k = [tm.droop_rate(x, self.c_int, self.gain) for x in sums]
        d0 = tm.droop_delay(self.t_read, self.t_read, self.t_edge, self.encoding)
        s = [gam * si * np.exp(-ki * d0) for si, ki in zip(s, k, strict=True)]
        if self.encoding == "amplitude":
            return s[0], s[1], None, None
        return s[0], s[1], s[0] * k[0], s[1] * k[1]

    def tile_model(self, g: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(T, L, P, Q, s_fwd, s_bwd, k_fwd, k_bwd)`` of one tile or a stack ``(..., n, m)``
        of tiles: ``T = G P``, ``L = G Q`` and the :meth:`line_scales` of ``T``."""
        geff = g / (1.0 + g * self.r_acc) if self.r_acc > 0 else g
        a, b = losses(geff, self.r_row, self.r_col, self.basis)
        cs = self.cell_scale(g)
        pm, qm = poly(self.p, a, b) * cs, poly(self.q, a, b) * cs
        t = g * pm
        return (t, g * qm, pm, qm, *self.line_scales(t))

    def _pulse_counts(self, x: np.ndarray) -> np.ndarray:
        """Pulse widths of ``|x|`` in steps of the ``pw_bits`` grid (float, of ``x``'s type)."""
        n = np.abs(x)
        n *= np.asarray(2**self.pw_bits - 1, dtype=x.dtype)
        return np.rint(n, out=n)

    def _level_f(self) -> float:
        """``F`` of the pulse level ``v_read`` (``V0 sinh(v_read / V0)`` or ``v_read``)."""
        if self.iv == "linear":
            return self.v_read
        return self.iv_v0 * float(np.sinh(self.v_read / self.iv_v0))

    def drive(self, x: np.ndarray, with_h: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Input transform of ``x`` (any shape): ``F = V0 sinh(V / V0)`` and ``H = F (cosh(V /
        V0) - 1)`` with ``V = x v_read`` (linear read law, or ``with_h=False``: ``H = None``);
        a pulse of width ``w`` drives ``F(sign(x) v_read)`` weighted by its area ``(w +
        t_edge) / (t_read + t_edge)``."""
        dt = x.dtype
        if self.encoding == "pulse_width":
            n = self._pulse_counts(x)
            span = self.t_read + self.t_edge
            f = (n > 0).astype(dt)
            f *= np.asarray(self.t_edge / span, dtype=dt)
            n *= np.asarray(self.t_read / (2**self.pw_bits - 1) / span, dtype=dt)
            f += n
            f *= np.asarray(self._level_f(), dtype=dt)
            np.copysign(f, x, out=f)
            if self.iv == "linear" or not with_h:
                return f, None
            return f, f * np.asarray(np.cosh(self.v_read / self.iv_v0) - 1.0, dtype=dt)
        v = x * np.asarray(self.v_read, dtype=dt)
        if self.iv == "linear":
            return v, None
        u = v / np.asarray(self.iv_v0, dtype=dt)
        f = np.sinh(u)
        f *= np.asarray(self.iv_v0, dtype=dt)
        if not with_h:
            return f, None
        h = np.cosh(u)
        h -= 1.0
        h *= f
        return f, h

    def droop_drive(self, x: np.ndarray, f: np.ndarray) -> np.ndarray | None:
        """Input weights of the droop product, ``F`` times the pulse's shortfall ``(t_read -
        w) / 2`` beyond the full-scale pulse's delay, for :attr:`pulse_droop` (``f``:
        :meth:`drive`'s ``F`` of ``x``), else None (module ``mac_timing``)."""
        if not self.pulse_droop:
            return None
        steps = 2**self.pw_bits - 1
        n = self._pulse_counts(x)
        n -= np.asarray(steps, dtype=x.dtype)
        n *= np.asarray(-self.t_read / steps / 2, dtype=x.dtype)
        n *= f
        return n

    def line_energy(self, x: np.ndarray) -> np.ndarray:
        """Energy (J per siemens of the driven line, float64, ``x``'s shape) an input driver
        delivers in one read of inputs ``x``: ``v F(v)`` times the pulse's duration (edges
        count a third: ``int v^2`` over a ramp), times the SPICE-fitted :attr:`energy_scale`.
        A read's energy is this times each line's total conductance (:meth:`read_energy`)."""
        x = np.asarray(x, dtype=float)
        if self.encoding == "amplitude":
            v = x * self.v_read
            f = self.iv_v0 * np.sinh(v / self.iv_v0) if self.iv == "sinh" else v
            dur = np.where(x != 0, self.t_read + 2 * self.t_edge / 3, 0.0)
        else:
            n = self._pulse_counts(x)
            v, f = np.sign(x) * self.v_read, np.sign(x) * self._level_f()
            dur = np.where(n > 0, n * self.t_read / (2**self.pw_bits - 1)
                           + 2 * self.t_edge / 3, 0.0)
        return self.energy_scale * v * f * dur

    def read_energy(self, g: np.ndarray, x: np.ndarray, direction: str = "forward") -> np.ndarray:
        """Energy (J) the input drivers deliver per read ``(B,)`` of inputs ``x`` into the
        array ``g`` (:meth:`line_energy` times every driven line's conductance)."""
        line_g = g.sum(axis=1) if direction == "forward" else g.sum(axis=0)
        return self.line_energy(x) @ line_g

    def layer(self, g: np.ndarray, *, dtype: Any = np.float32, refresh_every: int = 1000,
              exact_read: bool = True) -> MacLayer:
        """A :class:`MacLayer` for the physical ``(n_in, n_out)`` conductance matrix ``g``
        (``exact_read=False``: one matrix product per read, see :class:`MacLayer`)."""
        return MacLayer(self, g, dtype=dtype, refresh_every=refresh_every,
                        exact_read=exact_read)

    def forward(self, g: np.ndarray, x: np.ndarray, exact_read: bool = True) -> np.ndarray:
        """Forward read currents ``(B, n_out)`` A of inputs ``x`` ``(B, n_in)`` (float64)."""
        return self.layer(g, dtype=np.float64, refresh_every=0,
                          exact_read=exact_read).forward(x)

    def backward(self, g: np.ndarray, d: np.ndarray, exact_read: bool = True) -> np.ndarray:
        """Backward read currents ``(B, n_in)`` A of inputs ``d`` ``(B, n_out)`` (float64)."""
        return self.layer(g, dtype=np.float64, refresh_every=0,
                          exact_read=exact_read).backward(d)

    def with_form(self, form: str, p: np.ndarray | None = None,
                  q: np.ndarray | None = None) -> MacSurrogate:
        """The same circuit with another model form (physics coefficients unless given)."""
        if form not in FORMS:
            raise SpecError(f"form={form!r}: must be one of {', '.join(FORMS)}")
        basis = form.removesuffix("_ls")
        p0, q0 = PHYSICS[basis]
        return replace(self, form=form, basis=basis,
                       p=np.array(p0 if p is None else p, dtype=float),
                       q=np.array(q0 if q is None else q, dtype=float))

    # ------------------------------------------------------------ storage

    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name in (*_FLOATS, *_INTS, *_STRS, *_VECS, *_TABLE):
            out[name] = np.asarray(getattr(self, name))
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> MacSurrogate:
        """Rebuild from :meth:`to_arrays`; any missing, unknown, mistyped, misshapen or
        non-finite entry raises :class:`CacheError`."""
        names = set(_FLOATS + _INTS + _STRS + _VECS + _TABLE)
        got = set(arrays)
        if got != names:
            raise CacheError(f"MacSurrogate arrays: missing {sorted(names - got)}, "
                             f"unknown {sorted(got - names)}")
        kw: dict[str, Any] = {}

        def arr(name: str, kind: str, ndim: int) -> np.ndarray:
            a = np.asarray(arrays[name])
            if a.dtype.kind not in kind or a.ndim != ndim:
                raise CacheError(f"MacSurrogate.{name}: dtype {a.dtype} shape {a.shape}, "
                                 f"expected kind {kind!r} with {ndim} dimension(s)")
            if a.dtype.kind in "fi" and not np.all(np.isfinite(a)):
                raise CacheError(f"MacSurrogate.{name}: non-finite values")
            return a

        for name in _FLOATS:
            kw[name] = float(arr(name, "f", 0))
        for name in _INTS:
            kw[name] = int(arr(name, "i", 0))
        for name in _STRS:
            kw[name] = str(arr(name, "U", 0))
        for name in _VECS:
            kw[name] = arr(name, "f", 1).astype(float)
            if kw[name].shape != (len(MONOMIALS),):
                raise CacheError(f"MacSurrogate.{name}: shape {kw[name].shape}, expected "
                                 f"({len(MONOMIALS)},)")
        kw["model_names"] = arr("model_names", "U", 1)
        k = len(kw["model_names"])
        for name in _TABLE[1:]:
            kw[name] = arr(name, "f", 1).astype(float)
            if kw[name].shape != (k,):
                raise CacheError(f"MacSurrogate.{name}: shape {kw[name].shape}, expected ({k},)")
        checks = [(kw["form"] in FORMS, "form"), (kw["basis"] in BASES, "basis"),
                  (kw["form"].removesuffix("_ls") == kw["basis"], "basis"),
                  (kw["iv"] in ("linear", "sinh"), "iv"), (kw["v_read"] > 0, "v_read"),
                  (kw["iv_v0"] > 0, "iv_v0"), (kw["r_row"] > 0, "r_row"),
                  (kw["r_col"] > 0, "r_col"), (kw["r_foot"] >= 0, "r_foot"),
                  (0 < kw["g_min"] < kw["g_max"], "g_min"), (kw["tile_rows"] >= 1, "tile_rows"),
                  (kw["tile_cols"] >= 1, "tile_cols"),
                  (kw["encoding"] in ("amplitude", "pulse_width"), "encoding"),
                  (kw["sensing"] in ("tia", "integrator"), "sensing"),
                  (1 <= kw["pw_bits"] <= 12, "pw_bits"), (kw["timed"] in (0, 1), "timed"),
                  (kw["t_read"] > 0, "t_read"), (kw["t_edge"] > 0, "t_edge"),
                  (kw["c_int"] > 0, "c_int"), (kw["gain"] >= 0, "gain"),
                  (min(kw["c_row"], kw["c_col"], kw["r_acc"]) >= 0, "c_row"),
                  (kw["energy_scale"] > 0, "energy_scale"), (kw["t_window"] >= 0, "t_window")]
        for ok, name in checks:
            if not ok:
                raise CacheError(f"MacSurrogate.{name}: invalid value {kw[name]!r}")
        return cls(**kw)

    def info(self) -> dict[str, Any]:
        """JSON-able description: chosen form, coefficients, fit residual, model comparison."""
        return {
            "form": self.form, "basis": self.basis,
            "p": dict(zip(MONOMIALS, map(float, self.p), strict=True)),
            "q": dict(zip(MONOMIALS, map(float, self.q), strict=True)),
            "circuit": {"v_read_V": self.v_read, "iv": self.iv, "iv_v0_V": self.iv_v0,
                        "r_row_ohm": self.r_row, "r_col_ohm": self.r_col,
                        "r_foot_ohm": self.r_foot, "g_range_S": [self.g_min, self.g_max]},
            "read_mode": {"encoding": self.encoding, "sensing": self.sensing,
                          "pw_bits": self.pw_bits, "t_read_s": self.t_read,
                          "t_edge_s": self.t_edge, "c_int_F": self.c_int,
                          "opamp_gain": self.gain or None, "c_row_F": self.c_row,
                          "c_col_F": self.c_col, "r_access_ohm": self.r_acc,
                          "time_domain_terms": bool(self.timed)},
            "per_read": {"latency_s": self.t_window,
                         "energy_scale_spice_over_physics": self.energy_scale},
            "tile": [self.tile_rows, self.tile_cols],
            "fit_rms_pct_fs_worst_group": self.fit_rms,
            "full_scale": "max |ideal G^T V| over each (tile size, direction) group",
            "comparison_2fold_cv": {
                str(n): {"rms_pct_fs_worst_group": float(w), "rms_pct_fs_mean": float(m),
                         "max_pct_fs": float(x)}
                for n, w, m, x in zip(self.model_names, self.cv_rms_worst, self.cv_rms_mean,
                                      self.cv_max, strict=True)},
        }


# ---------------------------------------------------------------- the physics model of a spec


def circuit_fields(c: cm.MacCircuit) -> dict[str, Any]:
    """The surrogate fields that describe circuit ``c`` (a stress case is the same surrogate
    with these replaced)."""
    timed = c.sensing == "integrator" or c.c_row > 0 or c.c_col > 0
    return {"v_read": c.v_read, "iv": c.iv, "iv_v0": c.iv_v0, "r_row": c.r_row,
            "r_col": c.r_col, "r_foot": c.r_foot, "g_min": c.g_min, "g_max": c.g_max,
            "encoding": c.encoding, "sensing": c.sensing, "pw_bits": c.pw_bits,
            "t_read": c.t_read, "t_edge": c.t_edge, "c_int": c.c_int,
            "gain": c.opamp_gain or 0.0, "c_row": c.c_row, "c_col": c.c_col,
            "timed": int(timed), "t_window": c.t_read + 3 * c.t_edge + c.t_reset}


def _circuit(spec: cm.MacCharSpec) -> dict[str, Any]:
    n, m = spec.max_tile
    return {**circuit_fields(spec.circuit), "tile_rows": n, "tile_cols": m}


def physics(spec: cm.MacCharSpec, form: str = "ladder", *, spec_json: str = "",
            ngspice_version: str = "") -> MacSurrogate:
    """The unfitted physics surrogate (``first_order`` or ``ladder``) of ``spec``'s circuit."""
    if form not in PHYSICS:
        raise SpecError(f"form={form!r}: physics forms are {', '.join(PHYSICS)}")
    p0, q0 = PHYSICS[form]
    return MacSurrogate(form=form, basis=form, p=np.array(p0), q=np.array(q0), fit_rms=0.0,
                        model_names=np.array([form]), cv_rms_worst=np.zeros(1),
                        cv_rms_mean=np.zeros(1), cv_max=np.zeros(1), spec_json=spec_json,
                        ngspice_version=ngspice_version, **_circuit(spec))
