"""Resistive processing unit (RPU) device and its stochastic pulse update (Gokmen et al.).

Weights are in network units; every random draw comes from the ``np.random.Generator``
passed in: the devices' constants directly, the pulse trains and the cycle-to-cycle noise
through counter-based streams keyed by one draw from it (:mod:`~circuitsim.train.streams`,
so the compiled update computes each device's draws itself). Gradient descent is ``W <- W -
lr * x^T d`` (``x``: (B, n_in), ``d``: (B, n_out)).

Device **[lineage: Gokmen, Rasch, Haensch 2018 "RPU baseline"]**. One pulse coincidence
with sign ``s`` (+1 up, -1 down) moves device (i, j) by::

    w <- clip(w + s * dw_min * (1 + s * beta_ij + d2d * xi_ij) * (1 + c2c * xi'), -b_ij, b_ij)

- ``xi_ij ~ N(0, 1)`` is fixed per device (the same draw scales the up and the down step) and
  ``xi'`` is fresh per pulse. The per-device step factors ``1 +/- beta_ij + d2d * xi_ij`` are
  clipped at 0 **[ours]** (a pulse never moves a device against its sign; at d2d = 30 % about
  4e-4 of the devices get a dead direction).
- Asymmetry: ``beta_ij = asymmetry + asymmetry_d2d * N(0, 1)``. The mean up step is
  ``(1 + beta) dw_min`` and the mean down step ``(1 - beta) dw_min``, so ``beta =
  (dw_up - dw_down) / (dw_up + dw_down)``: "x % up/down asymmetry" means ``asymmetry =
  x / 100`` in this convention (a step *ratio* dw_up / dw_down = 1 + a is ``beta ~ a / 2``).
- Bounds: ``b_ij = w_bound * max(0, 1 + bound_d2d * N(0, 1))`` (symmetric, per device; a
  device whose drawn bound is <= 0 is stuck at 0, ~4e-4 of the devices at 30 %) **[ours]**.
- Per-device draws are made at construction in a fixed order (step, asymmetry, bound), always
  all three, so changing one spread does not reshuffle the others.

Summed pulses **[ours]**. A device that receives ``n_up`` up and ``n_down`` down pulses in one
update moves by ``max(0, n_up s_up + sqrt(n_up) c2c s_up N) - max(0, n_dn s_dn + sqrt(n_dn)
c2c s_dn N')`` (``s_up``, ``s_dn`` its step sizes): the sum of ``n`` per-pulse c2c factors is
approximated by its Normal of the same mean and variance, and the bound is applied *after*
summing (not after every pulse), which differs only for devices that hit a bound during an
update with mixed signs.

Stochastic pulse update **[lineage: Gokmen & Vlasov 2016]**. With ``C = sqrt(lr / (bl *
dw_min))`` row ``i`` of sample ``b`` fires in each of the ``bl`` slots with probability
``p_x = min(1, C |x_bi|)``, column ``j`` with ``p_d = min(1, C |d_bj|)``, independently; each
coincidence moves device (i, j) one pulse in the sign ``-sign(x_bi d_bj)``. Counts are summed
over the batch, so ``E[count] = bl p_x p_d = (lr / dw_min) |x d|`` and ``E[dw] = -lr x^T d``
for an ideal device while no probability saturates (:func:`expected_dw`). Implementation: 0/1
bit matrices (B*bl, n_in) and (B*bl, n_out) carrying the signs of x and d; total coincidences
``|A|^T |D|`` and net ``A^T D`` (two float32 matmuls, exact integers) give ``down = (total +
net) / 2`` and ``up = (total - net) / 2``.

``update_mode = "expected"`` **[ours, ablation]**: the exact SGD update ``-lr x^T d`` (no
``p <= 1`` limit, no pulse sampling) split by sign into expected up and down pulse counts
``(lr / dw_min) sum_b |x d|`` over the samples with ``x d < 0`` (up) or ``> 0`` (down), each
stochastically rounded to whole pulses and applied through the same device step (so the
asymmetry of up and down pulses in a batch still acts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from circuitsim.spec import check_types, non_negative, param, positive, require
from circuitsim.train import kernel_base, kernels, kernels_rpu
from circuitsim.train.streams import cell_normals, cell_uniforms, step_key


@dataclass(frozen=True, slots=True)
class RpuSpec:
    """RPU device (Gokmen et al. 2018 baseline) and its pulse update (weights in network units)."""

    dw_min: float = param(0.001, "mean weight step of one pulse coincidence")
    w_bound: float = param(0.6, "mean weight bound: w in [-b_ij, b_ij]")
    bound_d2d: float = param(0.3, "relative device-to-device spread of the bound b_ij")
    d2d: float = param(0.3, "relative device-to-device spread of the step")
    c2c: float = param(0.3, "relative cycle-to-cycle (per pulse) spread of the step")
    asymmetry: float = param(0.0, "mean up/down imbalance beta = (dw_up - dw_down) / "
                             "(dw_up + dw_down)")
    asymmetry_d2d: float = param(0.0, "device-to-device spread (sigma) of beta")
    bl: int = param(31, "bit length: pulse slots per update and sample")
    update_mode: Literal["stochastic", "expected"] = param(
        "stochastic", "stochastic: pulse coincidences; expected: the exact SGD update in "
        "stochastically rounded whole pulses (ablation)")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "dw_min", "w_bound", "bl")
        non_negative(self, "bound_d2d", "d2d", "c2c", "asymmetry_d2d")
        require(self.dw_min < self.w_bound, "dw_min", self.dw_min,
                f"must be < w_bound={self.w_bound!r}")
        require(abs(self.asymmetry) < 1.0, "asymmetry", self.asymmetry, "must be in (-1, 1)")


@dataclass(frozen=True, slots=True)
class PulseCounts:
    """Pulses of one stochastic update: per-device up/down counts and line totals."""

    up: np.ndarray  # (n_in, n_out) int32, pulses that raise w
    down: np.ndarray  # (n_in, n_out) int32, pulses that lower w
    row_pulses: int  # row pulses fired (all samples, all slots)
    col_pulses: int  # column pulses fired
    saturated: int  # (sample, line) pairs whose probability C|v| was clipped to 1


def _check_batch(x: np.ndarray, d: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=np.float32)
    da = np.asarray(d, dtype=np.float32)
    if xa.ndim != 2 or da.ndim != 2 or xa.shape[0] != da.shape[0]:
        raise ValueError(f"x (B, n_in) and d (B, n_out) need the same batch, got "
                         f"{xa.shape} and {da.shape}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr={lr!r}: must be finite and >= 0")
    return xa, da


def coincidences(a: np.ndarray, b: np.ndarray, n_b: int, bl: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Up/down coincidence counts (int32, (n_in, n_out)) of the row pulse slots ``a``
    (B * BL, n_in) and column slots ``b`` (B * BL, n_out) in {-1, 0, +1}: a coincidence with
    ``x d > 0`` lowers w (down), with ``x d < 0`` raises it (up). The numpy reference of
    :func:`circuitsim.train.kernels_rpu.coincidences`."""
    # float32 sums of 0/+-1 terms are exact integers (< 2**24 terms)
    total = np.abs(a).T @ np.abs(b)
    net = a.T @ b  # coincidences with x d > 0 minus those with x d < 0
    return ((total - net) * 0.5).astype(np.int32), ((total + net) * 0.5).astype(np.int32)


def pulse_trains(x: np.ndarray, d: np.ndarray, lr: float, dw_min: float, bl: int,
                 skeys: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Stochastic row and column pulse trains of a batch: slots ``a`` (B * bl, n_in) and
    ``b`` (B * bl, n_out) in {-1, 0, +1}, and how many lines saturated (``C |v| > 1``).
    Slot ``k`` of line ``i`` in sample ``s`` fires when its counter-based uniform
    (``streams.cell_uniforms`` of index ``(s bl + k) n + i``, keys ``skeys`` for rows and
    columns) is below ``min(1, C |v|)``; ``kernels_rpu.pulse_masks`` computes the same bits."""
    xa, da = _check_batch(x, d, lr)
    c = math.sqrt(lr / (bl * dw_min))
    qx, qd = c * np.abs(xa), c * np.abs(da)
    saturated = int(np.count_nonzero(qx > 1) + np.count_nonzero(qd > 1))
    n_b = xa.shape[0]
    if n_b * bl >= 2**24:
        raise ValueError(f"batch {n_b} x bl {bl}: too many pulse slots for exact float32 counts")

    def bits(v: np.ndarray, q: np.ndarray, skey: int) -> np.ndarray:
        u = cell_uniforms(skey, np.arange(n_b * bl * v.shape[1])).reshape(n_b, bl, -1)
        fire = u < np.minimum(q, 1)[:, None]
        return (fire * np.sign(v)[:, None, :]).reshape(n_b * bl, v.shape[1])

    return bits(xa, qx, skeys[0]), bits(da, qd, skeys[1]), saturated


def pulse_counts(x: np.ndarray, d: np.ndarray, lr: float, dw_min: float, bl: int,
                 rng: np.random.Generator | None, engine: str = "numpy",
                 skeys: tuple[int, int] | None = None) -> PulseCounts:
    """Stochastic row/column pulse trains of a batch (:func:`pulse_trains`; stream keys
    ``skeys``, or drawn from ``rng``) and their coincidence counts (``engine`` "numba":
    counted by the compiled kernel, the same integers)."""
    if skeys is None:
        skeys = (int(rng.integers(2**32)), int(rng.integers(2**32)))
    a, b, saturated = pulse_trains(x, d, lr, dw_min, bl, skeys)
    n_b = len(x)
    if engine == "numba" and bl <= 64:
        up, down = kernels_rpu.coincidences(a, b, n_b, bl)
    else:
        up, down = coincidences(a, b, n_b, bl)
    return PulseCounts(up=up, down=down, row_pulses=int(np.count_nonzero(a)),
                       col_pulses=int(np.count_nonzero(b)), saturated=saturated)


def expected_dw(spec: RpuSpec, x: np.ndarray, d: np.ndarray, lr: float) -> np.ndarray:
    """Expected weight change of one stochastic pulse update of an ideal device (beta = d2d =
    c2c = 0, far from the bounds): ``-dw_min bl sum_b sign(x d) p_x p_d`` (float64), which is
    ``-lr x^T d`` while every ``C|x|, C|d| <= 1``."""
    xa, da = _check_batch(x, d, lr)
    c = math.sqrt(lr / (spec.bl * spec.dw_min))
    px = np.minimum(1.0, c * np.abs(xa.astype(np.float64))) * np.sign(xa)
    pd = np.minimum(1.0, c * np.abs(da.astype(np.float64))) * np.sign(da)
    return -spec.dw_min * spec.bl * (px.T @ pd)


class RpuArray:
    """An (n_in, n_out) array of RPU devices: per-device constants and weights ``w`` (float32)."""

    def __init__(self, spec: RpuSpec, shape: tuple[int, int], rng: np.random.Generator,
                 w0: np.ndarray | None = None, engine: str = "numpy"):
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape={shape!r}: need (n_in, n_out) >= 1")
        self.spec = spec
        self.rng = rng
        self.engine = engine
        #: flat indices of the devices the last update pulsed (their w may be unchanged)
        self.touched = np.zeros(0, np.intp)
        if engine == "numba":
            kernels.warm_up()
        self.n_in, self.n_out = int(shape[0]), int(shape[1])
        xi_step = rng.standard_normal(shape)
        beta = spec.asymmetry + spec.asymmetry_d2d * rng.standard_normal(shape)
        xi_bound = rng.standard_normal(shape)
        self.beta = beta.astype(np.float32)
        self.step_up = (spec.dw_min * np.maximum(0.0, 1 + beta + spec.d2d * xi_step)
                        ).astype(np.float32)
        self.step_down = (spec.dw_min * np.maximum(0.0, 1 - beta + spec.d2d * xi_step)
                          ).astype(np.float32)
        self.bound = (spec.w_bound * np.maximum(0.0, 1 + spec.bound_d2d * xi_bound)
                      ).astype(np.float32)
        if w0 is None:
            self.w = np.zeros(shape, dtype=np.float32)
        else:
            w = np.asarray(w0, dtype=np.float32)
            if w.shape != tuple(shape):
                raise ValueError(f"w0 shape {w.shape} != {tuple(shape)}")
            self.w = np.clip(w, -self.bound, self.bound)  # initial weights respect the bounds
        # counter-based streams (streams.step_key) of the pulse trains and the c2c noise
        self._key, self._updates = int(rng.integers(2**63)), 0
        self._keys: tuple[int, tuple[int, ...]] = (-1, ())  # (update, its keys) once computed

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_in, self.n_out)

    def weights(self) -> np.ndarray:
        """Current weights (float64 copy)."""
        return self.w.astype(np.float64)

    def pulse_update(self, x: np.ndarray, d: np.ndarray, lr: float) -> dict[str, int]:
        """Realise ``W -= lr * x^T d`` by pulses (``spec.update_mode``); returns counts:
        row_pulses, col_pulses (0 in expected mode), coincidences, up, down, saturated."""
        spec = self.spec
        if spec.update_mode == "expected":
            xa, da = _check_batch(x, d, lr)
            self._check_lines(xa, da)
            x64, d64 = xa.astype(np.float64), da.astype(np.float64)
            total = np.abs(x64).T @ np.abs(d64)  # sum_b |x d|
            net = x64.T @ d64  # sum_b x d: (x d > 0, down) minus (x d < 0, up)
            scale = lr / spec.dw_min / 2
            up = self._round(np.maximum(scale * (total - net), 0.0))
            down = self._round(np.maximum(scale * (total + net), 0.0))
            rows = cols = saturated = 0
        else:
            self._check_lines(np.asarray(x), np.asarray(d))
            pc = pulse_counts(x, d, lr, spec.dw_min, spec.bl, None, self.engine,
                              self.keys()[2:])
            up, down = pc.up, pc.down
            rows, cols, saturated = pc.row_pulses, pc.col_pulses, pc.saturated
        self._apply(up, down)
        n_up, n_down = int(up.sum()), int(down.sum())
        return {"row_pulses": rows, "col_pulses": cols, "coincidences": n_up + n_down,
                "up": n_up, "down": n_down, "saturated": saturated}

    def apply_pulses(self, n: np.ndarray) -> None:
        """Apply signed pulse counts ``n`` (ints, (n_in, n_out)): ``n > 0`` up, ``n < 0`` down
        (SBP / Manhattan: one identical pulse per weight, n in {-1, 0, +1})."""
        counts = np.asarray(n)
        if counts.shape != self.shape or not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(f"apply_pulses: need an integer array of shape {self.shape}, got "
                             f"{counts.dtype} {counts.shape}")
        counts = counts.astype(np.int64)
        self._apply(np.maximum(counts, 0), np.maximum(-counts, 0))

    def keys(self) -> tuple[int, int, int, int]:
        """This update's stream keys: c2c noise of up and down pulses, row and column
        pulse trains (compiled: ``kernel_base.step_keys``, the same integers)."""
        if self.engine != "numba":
            return tuple(step_key(self._key, 4 * self._updates + k) for k in range(4))
        if self._keys[0] != self._updates:
            out = np.empty(4, np.uint32)
            kernel_base.step_keys(np.uint64(self._key), np.uint64(4 * self._updates), out)
            self._keys = (self._updates, tuple(out.tolist()))
        return self._keys[1]

    def pulse_list(self, x: np.ndarray, d: np.ndarray, lr: float, rule: str,
                   out: tuple[np.ndarray, np.ndarray, np.ndarray]) -> int:
        """The devices one update pulses, as a list (compiled; the same pulses as
        :meth:`pulse_update` (``rule`` "pulse", stochastic mode, ``bl`` <= 64) or
        :meth:`apply_pulses` of SBP's ``-sign(x^T d)`` (``rule`` "sbp")): flat indices,
        up and down counts into ``out``; returns how many. The caller applies them with
        ``kernels_rpu.rpu_apply`` and then calls :meth:`end_update`."""
        self._check_lines(np.asarray(x), np.asarray(d))
        x32, d32 = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(d, np.float32)
        if rule == "sbp":
            return kernels_rpu.sign_list(x32, d32, *out)
        _check_batch(x32, d32, lr)
        c = np.float32(math.sqrt(lr / (self.spec.bl * self.spec.dw_min)))
        _, _, kr, kc = self.keys()
        return kernels_rpu.coincidence_list(x32, d32, c, self.spec.bl, np.uint32(kr),
                                            np.uint32(kc), *out)

    def scale_steps(self, factor: float) -> None:
        """Every device's up and down step times ``factor`` (a shorter or weaker pulse; in
        place, so the compiled update's views of the steps see it)."""
        self.step_up *= np.float32(factor)
        self.step_down *= np.float32(factor)

    def end_update(self, idx: np.ndarray) -> None:
        """After an update that pulsed the devices at ``idx``: the next update's streams."""
        self.touched = idx
        self._updates += 1

    def _check_lines(self, x: np.ndarray, d: np.ndarray) -> None:
        if x.ndim != 2 or d.ndim != 2 or x.shape[1] != self.n_in or d.shape[1] != self.n_out:
            raise ValueError(f"x {x.shape} / d {d.shape} do not match the array {self.shape}")

    def _round(self, expected: np.ndarray) -> np.ndarray:
        """Stochastic rounding to whole pulses (unbiased)."""
        low = np.floor(expected)
        return (low + (self.rng.random(expected.shape) < expected - low)).astype(np.int64)

    def _apply(self, up: np.ndarray, down: np.ndarray) -> None:
        ku_all, kd_all = up.reshape(-1), down.reshape(-1)
        idx = np.flatnonzero(ku_all + kd_all)
        k_up, k_dn, _, _ = self.keys()
        self.end_update(idx)
        if idx.size == 0:
            return
        ku, kd = ku_all[idx].astype(np.float32), kd_all[idx].astype(np.float32)
        su, sd = self.step_up.reshape(-1)[idx], self.step_down.reshape(-1)[idx]
        mag_up, mag_down = ku * su, kd * sd
        if self.spec.c2c > 0:
            noise = (cell_normals(k_up, idx), cell_normals(k_dn, idx))
            c2c = np.float32(self.spec.c2c)
            mag_up = np.maximum(mag_up + np.sqrt(ku) * c2c * su * noise[0], 0)
            mag_down = np.maximum(mag_down + np.sqrt(kd) * c2c * sd * noise[1], 0)
        bound = self.bound.reshape(-1)[idx]
        self.w.flat[idx] = np.clip(self.w.flat[idx] + (mag_up - mag_down), -bound, bound)
