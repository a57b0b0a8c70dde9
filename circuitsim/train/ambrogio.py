"""Ambrogio et al. 2018: 2PCM+3T1C synapses with transfer and polarity inversion, and the
PCM-only ablation.

Weight (in weight units; ``w_scale`` siemens per unit)::

    W = (F (G+ - G-) + p (g - g_shared)) / w_scale                                   [paper]

- ``g``: one 3T1C cell per synapse, state V_C, through the **update surrogate** fitted from
  SPICE: state-dependent steps, cells drawn from the SPICE-fitted cell-to-cell distribution
  (pull-up/down threshold offsets make each cell's up and down steps differ), hold leakage.
  ``g_shared``: one reference cell per output column (an ordinary 3T1C cell that is never
  pulsed, only leaks), subtracted from every synapse of its column.
- **Updates** (every step): the SGD change ``dW = -lr x^T d`` becomes whole up/down pulses on
  ``g``: ``n = round_stochastic(p dW w_scale / dg_nom)`` (``dg_nom``: the nominal cell's g
  step at V_C0), at most ``n_max`` per cell and step [ours: stochastic rounding keeps the
  expected change equal to SGD's; its uniforms come from a counter-based stream,
  ``streams.cell_uniforms``, so the compiled kernel computes each cell's own value in
  place]. The pulsed cells move by what the *surrogate* says, not by ``dg_nom``.
- **Leakage**: every ``leak_every`` images all cells (and the references) leak for
  ``leak_every * t_image`` seconds, and before a transfer for the time since the last
  integration (the surrogate integrates any hold exactly; between two integrations the
  reads see the state of the last one) [ours: 200 images = 0.2 ms, in which
  the PTM cell drifts 1.2 mV at V_C0 = 0.5 V (a sixth of a 400 fF pulse step) and 14 mV at
  0.62 V; one leak integration costs a pass over the layer, ~3.5 ms for 785 x 250].
- **Transfer** every ``transfer_every`` images [paper: ~8,000 MNIST images; ours: scaled to the
  data set]: the current ``W`` is moved into the PCM pair. V_C of every cell (and reference)
  returns to V_C0; the PCM difference target is ``D = (W w_scale - p' (g0 - g_shared0 +
  offset)) / F`` with ``g0`` the cells' g at V_C0 and ``p'`` the new polarity [paper: target
  ``W - offset - (g(0.5 V) - g_shared(0.5 V))``, offset 2 uS]: the device of D's sign is
  programmed to ``|D|`` from full RESET, the other one stays RESET (targets below the RESET
  level leave both RESET and g corrects the rest). The PCM programming model
  (:mod:`~circuitsim.train.pcm`) is imprecise; the remaining residual ``W w_scale - F (G+ - G-)
  - p' (g0 - g_shared0)`` (about ``p' offset`` plus the programming error) is then written into
  ``g`` with up/down pulses from V_C0, verified and corrected ``absorb_iters`` times [ours: the
  paper lets g absorb the programming error]. The offset leaves g a correction mostly in its
  *up* direction: at V_C0 the 3T1C cell sits near the bottom of its g range (~3 uS of ~3-27
  uS with this PTM 45 nm cell), so it can add far more than it can take away. ``vc0`` moves
  that restart point (the cells' and the reference's) [ours]: at 0.62 V a cell steps 10 uS
  either way in 16-20 pulses, but the g and g_shared arrays then carry ~12 uS per cell and
  the IR drop of those currents costs more than the headroom gains (README, Fashion-MNIST).
- **Polarity inversion** [lineage]: ``p`` flips at every transfer, and so does the direction of
  the pulses realising a given ``dW``: a cell whose up steps are larger than its down steps
  biases W one way in one interval and the other way in the next.

PCM-only (ablation): ``W = F (G+ - G-) / w_scale`` updated directly with partial SET pulses
(G+ for positive dW, G- for negative; steps shrink as G approaches g_max) and every
``transfer_every`` images an occasional RESET-and-reprogram of the pair to its current
difference [lineage, Burr et al.].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.netlist import sky130
from circuitsim.spec import check_types, non_negative, param, positive, require
from circuitsim.surrogate.mac import MacSurrogate
from circuitsim.surrogate.update import MZ, CellParams, M, UpdateSurrogate
from circuitsim.train import kernel_base, kernels, pcm
from circuitsim.train.periphery import Periphery
from circuitsim.train.streams import NORMAL_TABLES, cell_normals, cell_uniforms, step_key
from circuitsim.train.tally import Tally
from circuitsim.train.weights import AnalogWeights, ArrayRead, round_pulses, sgd_rows


@dataclass(frozen=True, slots=True)
class AmbrogioSpec:
    """2PCM+3T1C synapse (and the PCM-only ablation)."""

    gain_f: float = param(3.0, "F: gain of the PCM pair relative to the 3T1C cell")
    w_scale: float = param(0.0, "effective conductance of one weight unit (0: the data set's "
                                "reference, config.W_SCALE)", "S")
    transfer_every: int = param(0, "images between transfers to the PCM pair (PCM-only: "
                                   "between RESET-and-reprogram refreshes; 0: the data set's, "
                                   "config.TRANSFER_EVERY)")
    polarity_inversion: bool = param(True, "flip the sign of g at every transfer")
    transfer_per_lr: bool = param(False, "count the transfer interval in images times lr / "
                                         "(the first update's lr): as the learning rate "
                                         "decays transfers come less often, each carrying "
                                         "about the same learning")
    out_gain: float = param(1.0, "digital gain on the output layer's reads: its weight unit "
                                 "is w_scale / out_gain siemens, so its PCM pair spans "
                                 "out_gain times the weight range, in coarser steps")
    vc0: float = param(0.0, "V_C every cell (and reference cell) restarts from at a transfer "
                            "(0: the characterized cell template's V_C0)", "V")
    offset: float = param(2e-6, "conductance left to g at a transfer (PCM target lowered by "
                                "it)", "S")
    absorb_iters: int = param(4, "write-and-verify rounds writing the PCM programming "
                                 "residual into g (0: g restarts at V_C0)")
    t_image: float = param(1e-6, "time per training image (for the 3T1C leakage)", "s")
    leak_every: int = param(200, "images between leakage integrations (0 = no leakage)")
    n_max: int = param(8, "most pulses per cell and update")
    cell_c: float = param(400e-15, "storage capacitor of the characterized 3T1C cell (sets "
                                   "the step per pulse: ~7.5 mV at 400 fF, ~30 mV at 100 fF)",
                          "F")
    cell_variation: bool = param(True, "3T1C cells drawn from the SPICE-fitted distribution "
                                       "(False: all nominal)")
    technology: str = param("ptm45", "transistors of the 3T1C cell: ptm45 (the embedded PTM "
                                     "45 nm cards) or sky130 (SkyWater SKY130 1.8 V, the "
                                     "cell preset of models/README.md, foundry mismatch)")
    corner: str = param("tt", "SKY130 process corner of the 3T1C cell: "
                              + " ".join(sky130.CORNERS))
    trim_gates: bool = param(True, "sky130 corners other than tt: the cell's pulse gate "
                                   "levels trimmed so one pulse moves V_C0 as at tt, as a "
                                   "chip's bias trim would (technology_presets.SKY130_TRIM; "
                                   "False: the tt levels at every corner)")
    pcm: pcm.PcmSpec = param(pcm.PcmSpec(), "PCM device model")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "gain_f", "t_image", "n_max", "offset", "cell_c", "out_gain")
        non_negative(self, "w_scale", "transfer_every", "vc0")
        non_negative(self, "leak_every", "absorb_iters")
        require(self.technology in ("ptm45", "sky130"), "technology", self.technology,
                "choose ptm45 or sky130")
        require(self.corner in sky130.CORNERS and (self.technology == "sky130"
                                                   or self.corner == "tt"),
                "corner", self.corner, f"choose one of {' '.join(sky130.CORNERS)} (corners "
                "other than tt need technology=sky130)")


ENGINES = ("numba", "numpy")


def _engine(engine: str) -> str:
    if engine not in ENGINES:
        raise SpecError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")
    return engine


def _resolved(spec: AmbrogioSpec) -> AmbrogioSpec:
    """``spec``, checked to have its data-set default resolved (``TrainSpec.ambrogio_spec``)."""
    if not spec.transfer_every:
        raise SpecError("ambrogio.transfer_every=0: resolve the data set's default first "
                        "(TrainSpec.ambrogio_spec)")
    return spec


def _program_pair(spec: AmbrogioSpec, target: np.ndarray, rng: np.random.Generator,
                  tally: Tally, phase: str) -> tuple[np.ndarray, np.ndarray]:
    """PCM pair (G+, G-) programmed from full RESET for the difference ``target`` (S): the
    device of the target's sign is programmed, the other stays RESET (``tally`` counts the
    RESETs and the programmed devices under ``phase``)."""
    gp = pcm.program(spec.pcm, np.maximum(target, 0.0), rng)
    gn = pcm.program(spec.pcm, np.maximum(-target, 0.0), rng)
    tally.add(phase, "pcm_resets", gp.size + gn.size)
    tally.add(phase, "pcm_programmed", np.count_nonzero(target > spec.pcm.g_reset)
              + np.count_nonzero(-target > spec.pcm.g_reset))
    return gp.astype(np.float32), gn.astype(np.float32)


class AmbrogioWeights(AnalogWeights):
    """2PCM+3T1C weights (see the module docstring)."""

    kind = "ambrogio"

    def __init__(self, w0: np.ndarray, mac: MacSurrogate, upd: UpdateSurrogate,
                 spec: AmbrogioSpec, fwd: Periphery, bwd: Periphery, rng: np.random.Generator,
                 exact_read: bool = False, engine: str = "numba"):
        n_in, n_out = w0.shape
        spec = _resolved(spec)
        self.engine = _engine(engine)
        if engine == "numba":
            kernels.warm_up()
        super().__init__(n_in, n_out, spec.w_scale, fwd, bwd)
        self.spec, self.upd, self.rng = spec, upd, rng
        draw = ((lambda shape: upd.sample_cells(shape, rng)) if spec.cell_variation
                else upd.nominal_cells)
        self.cells, self.ref_cells = draw((n_in, n_out)), draw(n_out)
        self.vc0 = spec.vc0 or upd.vc0
        if not upd.v_min < self.vc0 < upd.v_max:
            raise SpecError(f"ambrogio.vc0={spec.vc0!r}: must lie inside the update "
                            f"surrogate's V_C range ({upd.v_min:g}, {upd.v_max:g}) V")
        self.vc = np.full((n_in, n_out), self.vc0, np.float32)
        self.vc_ref = np.full(n_out, self.vc0, np.float32)
        nom = upd.nominal_cells(1)
        v0 = np.full(1, self.vc0)
        self.dg_nom = float(upd.g(upd.pulse(v0, np.ones(1, np.int8), nom), nom)[0]
                            - upd.g(v0, nom)[0])
        self.p = 1.0
        self._kargs: tuple | None = None
        self._lkargs: tuple | None = None
        self._scratch: tuple[np.ndarray, ...] | None = None
        self._state: tuple[np.ndarray, ...] | None = None
        self.images = 0
        self._since_leak = 0
        self._since_transfer = 0.0
        self._lr0 = 0.0  # the first update's learning rate (transfer_per_lr)
        self._lr = 0.0
        zeros = np.zeros((n_in, n_out), np.float32)
        f = spec.gain_f
        self.read = ArrayRead(mac, [zeros, zeros, self._g(), self._g_shared()],
                              [f, -f, self.p, -self.p], exact_read=exact_read)
        self._write(np.asarray(w0, dtype=np.float64) * spec.w_scale, flip=False,
                    phase="program")
        # the stochastic rounding's counter-based stream (streams.cell_uniforms)
        self._key, self._updates = int(rng.integers(2**63)), 0

    # ------------------------------------------------------------ state

    def _g(self) -> np.ndarray:
        return self.upd.g(self.vc, self.cells).astype(np.float32)

    def _g_shared(self) -> np.ndarray:
        gs = self.upd.g(self.vc_ref, self.ref_cells).astype(np.float32)
        return np.broadcast_to(gs, (self.n_in, self.n_out))

    def weights(self) -> np.ndarray:
        g = self.read.g
        f = self.spec.gain_f
        return (f * (g[0].astype(np.float64) - g[1]) + self.p * (g[2].astype(np.float64) - g[3])
                ) / self.spec.w_scale

    def conductances(self) -> dict[str, np.ndarray]:
        g = self.read.g
        return {"G+ (PCM)": g[0], "G- (PCM)": g[1], "g (3T1C)": g[2],
                "V_C (3T1C)": self.vc}

    # ------------------------------------------------------------ training

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        self._lr0 = self._lr0 or lr
        self._lr = lr
        # the SGD change in nominal steps: k * x^T d
        k = np.float32(-lr * self.p * self.spec.w_scale) / np.float32(self.dg_nom)
        skey = step_key(self._key, self._updates)
        self._updates += 1
        if self.engine == "numba" and self.read.single_transfer:
            self._update_compiled(x, d, k, skey)
            return
        rows, dw = sgd_rows(x, d, k)
        idx = (rows[:, None] * self.n_out + np.arange(self.n_out)).reshape(-1)
        n = round_pulses(dw.reshape(-1), 1.0, cell_uniforms(skey, idx), self.spec.n_max)
        hit = np.flatnonzero(n)
        if hit.size:
            idx = idx[hit]
            before = self.vc.reshape(-1)[idx]
            self.upd.pulse_at(self.vc, idx, n[hit], self.cells)
            self.tally.add_pulses("update", n[hit], self.vc.reshape(-1)[idx] - before)
            self.read.set_at(2, idx, self.upd.g_at(self.vc, idx, self.cells))

    def _kernel_args(self) -> tuple:
        """The surrogate's tables and the cells' parameters as the kernels take them."""
        if self._kargs is None:
            t, c, f32 = self.upd._tab, self.cells, np.float32
            rec = kernels.cell_records(c.up_off, c.up_k, c.dn_off, c.dn_k, c.rd_c, c.rd_s,
                                       int(t["dn_shift"]))
            p32 = kernel_base.pairs32
            self._kargs = (rec, p32(t["both"]), p32(t["bothi"]), f32(self.upd.v_min),
                           f32(t["inv_hv"]), f32(M - 1.001), p32(t["g"]), f32(self.upd.w_min),
                           f32(t["inv_hw"]))
        return self._kargs

    def _update_compiled(self, x: np.ndarray, d: np.ndarray, k: np.float32, skey: int
                         ) -> None:
        """:meth:`update` through :func:`kernels.ambrogio_pulse` (same uniforms)."""
        read = self.read
        state = self._state
        if state is None or state[0] is not self.vc or state[1] is not read.t:
            # the kernel's arguments after (x, d, k, key, n_max): the arrays it updates in
            # place as flat views, rebuilt when a transfer or a refresh replaces one, the
            # tables, and its list of pulsed cells
            _, _, p, _ = read.layers[2].terms()
            flat = kernel_base.flat
            if self._scratch is None:
                self._scratch = (np.empty(self.vc.size, np.int64),
                                 *np.empty((2, self.vc.size), np.float32))
            self._state = state = (self.vc, read.t, (
                flat(self.vc), *self._kernel_args(), flat(read.g[2]), flat(read.t), flat(p),
                np.float32(read.gains[2]), *self._scratch, self.tally.pulses))
        hits = kernels.ambrogio_pulse(
            np.ascontiguousarray(x, np.float32), np.ascontiguousarray(d, np.float32),
            k, np.uint32(skey), self.spec.n_max, *state[2])
        if hits:
            read.mark_dirty(2)
            read.tick()

    def _absorb_compiled(self, a: np.ndarray, gs: np.ndarray, phase: str) -> None:
        """:meth:`_write`'s write-and-verify rounds through :func:`kernels.absorb` (``a``:
        polarity times the target left after the PCM pair, float64; ``gs``: the references'
        g per column)."""
        rec, both, bothi, v_min, inv_hv, hi, gtab, w_min, inv_hw = self._kernel_args()
        counts = np.zeros(4)
        kernels.absorb(kernel_base.flat(self.vc), np.ascontiguousarray(a).reshape(-1),
                       np.ascontiguousarray(gs), self.spec.absorb_iters, rec, both, bothi,
                       v_min, inv_hv, hi, gtab, w_min, inv_hw, counts)
        if counts[0] or counts[1]:
            for name, v in zip(("pulses_up", "pulses_down", "dv_up", "dv_down"), counts,
                               strict=True):
                self.tally.add(phase, name, v)

    def _leak_args(self, cells: CellParams, dt: float) -> tuple:
        """The leakage kernels' arguments for ``cells`` and a hold of ``dt`` s."""
        t, f32 = self.upd._tab, np.float32
        e_hi, e_lo = (np.exp(-np.ascontiguousarray(k).reshape(-1) * f32(dt))
                      for k in (cells.lk_khi, cells.lk_klo))
        flat = [np.ascontiguousarray(a).reshape(-1) for a in
                (cells.lk_s, cells.lk_off, cells.lk_offi, cells.rd_c, cells.rd_s)]
        p32 = kernel_base.pairs32
        return (*flat[:3], e_hi, e_lo, p32(t["z"]), p32(t["zi"]), f32(self.upd.w_min),
                f32(t["inv_hw"]), f32(t["inv_hz"]), f32(M - 1.001), f32(MZ - 1.001), *flat[3:],
                p32(t["g"]))

    def _leak_compiled(self, dt: float) -> None:
        """:meth:`end_step`'s leakage of the cells and the references in one pass over the
        layer (:func:`kernels.leak_into`)."""
        if self._lkargs is None or self._lkargs[0] != dt:
            self._lkargs = (dt, self._leak_args(self.cells, dt),
                            self._leak_args(self.ref_cells, dt))
        _, cell_args, ref_args = self._lkargs
        gs = np.empty(self.vc_ref.size, np.float32)
        kernels.leak_g(self.vc_ref, *ref_args, gs)
        read = self.read
        (_, _, p2, _), (_, _, p3, _) = read.layers[2].terms(), read.layers[3].terms()
        f32 = np.float32
        flat = kernel_base.flat
        kernels.leak_into(flat(self.vc), *cell_args, flat(read.g[2]), flat(p2),
                          f32(read.gains[2]), gs, flat(read.g[3]), flat(p3),
                          f32(read.gains[3]), flat(read.t))
        for k in (2, 3):  # as two set_all calls
            read.mark_dirty(k)
            read.tick()

    def end_step(self, n_images: int) -> None:
        super().end_step(n_images)
        s = self.spec
        self.images += n_images
        self._since_leak += n_images
        self._since_transfer += (n_images * self._lr / self._lr0
                                 if s.transfer_per_lr and self._lr0 else n_images)
        transfer_due = self._since_transfer >= s.transfer_every
        # a transfer restarts the cells: the hold since the last leakage integration leaks
        # first, also when it is shorter than leak_every
        if s.leak_every and self._since_leak and (self._since_leak >= s.leak_every
                                                  or transfer_due):
            dt = self._since_leak * s.t_image
            self.tally.add("hold", "cell_seconds", (self.vc.size + self.vc_ref.size) * dt)
            if self.engine == "numba" and self.read.single_transfer:
                self._leak_compiled(dt)
            else:
                self.vc = self.upd.leak(self.vc, dt, self.cells).astype(np.float32)
                self.read.set_all(2, self._g())
                self.vc_ref = self.upd.leak(self.vc_ref, dt, self.ref_cells).astype(np.float32)
                self.read.set_all(3, self._g_shared())
            self._since_leak = 0
        if transfer_due:
            self.transfer()

    def transfer(self) -> None:
        """Move the current weights into the PCM pair (module docstring)."""
        self.flush_tally()
        self.tally.add("transfer", "transfers", 1)
        self._write(self.weights() * self.spec.w_scale, flip=self.spec.polarity_inversion)
        self._since_transfer = 0.0

    def _write(self, target: np.ndarray, flip: bool, phase: str = "transfer") -> None:
        s, upd, tally = self.spec, self.upd, self.tally
        if flip:
            self.p = -self.p
        # every cell (and reference) is set back to V_C0: the charge that adds
        for vc in (self.vc, self.vc_ref):
            tally.add(phase, "vc_reset_up", np.maximum(self.vc0 - vc, 0).sum(dtype=np.float64))
        tally.add(phase, "vc_resets", self.vc.size + self.vc_ref.size)
        self.vc = np.full(self.vc.shape, self.vc0, np.float32)
        self.vc_ref = np.full(self.vc_ref.shape, self.vc0, np.float32)
        self._since_leak = 0  # the cells restart: no hold time carried over
        g0, gs0 = self._g(), self._g_shared()
        cell = self.p * (g0.astype(np.float64) - gs0 + s.offset)
        gp, gn = _program_pair(s, (target - cell) / s.gain_f, self.rng, tally, phase)
        pcm_part = s.gain_f * (gp.astype(np.float64) - gn)
        residual = target - pcm_part - cell
        if self.engine == "numba":
            self._absorb_compiled(self.p * (target - pcm_part), gs0[0], phase)
        for _ in range(0 if self.engine == "numba" else s.absorb_iters):
            # write-and-verify the residual into g
            want = self.p * (target - pcm_part) - (self._g().astype(np.float64) - gs0)
            # pulses at the cell's own local step (g(V_C) is steep: a nominal-step count
            # overshoots, and the next round would overshoot back)
            step = np.maximum(np.where(want > 0, upd.dg(self.vc, 1, self.cells),
                                       -upd.dg(self.vc, -1, self.cells)), 1e-12)
            n = np.where(np.abs(want) > 0.5 * step,
                         np.sign(want) * np.maximum(1, np.rint(np.abs(want) / step)), 0)
            n = np.clip(n, -64, 64).astype(np.int16)
            if not n.any():
                break
            before = self.vc
            self.vc = upd.pulse(self.vc, n, self.cells).astype(np.float32)
            tally.add_pulses(phase, n, self.vc - before)
        self.read.gains[2], self.read.gains[3] = self.p, -self.p
        for k, g in enumerate((gp, gn, self._g(), self._g_shared())):
            self.read.set_all(k, g)
        self.read.refresh()
        after = self.weights() * s.w_scale - target
        self.events.append({
            "image": self.images, "polarity": self.p,
            "pcm_programmed": int(np.count_nonzero((gp > s.pcm.g_reset) | (gn > s.pcm.g_reset))),
            "pcm_error_rms_uS": float(np.sqrt(np.mean(residual ** 2)) * 1e6),
            "weight_error_rms_uS": float(np.sqrt(np.mean(after ** 2)) * 1e6)})


class PcmOnlyWeights(AnalogWeights):
    """PCM-only weights ``F (G+ - G-) / w_scale`` with partial-SET updates (ablation)."""

    kind = "pcm"

    def __init__(self, w0: np.ndarray, mac: MacSurrogate, spec: AmbrogioSpec,
                 fwd: Periphery, bwd: Periphery, rng: np.random.Generator,
                 exact_read: bool = False, engine: str = "numba"):
        n_in, n_out = w0.shape
        spec = _resolved(spec)
        self.engine = _engine(engine)
        if engine == "numba":
            kernels.warm_up()
        super().__init__(n_in, n_out, spec.w_scale, fwd, bwd)
        self.spec, self.rng = spec, rng
        self.images = 0
        self._since = 0
        self.step_nom = float(pcm.set_step(spec.pcm, np.array(spec.pcm.g_max / 2)))
        gp, gn = _program_pair(spec, np.asarray(w0, np.float64) * spec.w_scale / spec.gain_f,
                               rng, self.tally, "program")
        f = spec.gain_f
        self.read = ArrayRead(mac, [gp, gn], [f, -f], exact_read=exact_read)
        # counter-based streams (streams.step_key): the rounding's uniforms, each pulse's
        # spread; the compiled path's list of pulsed cells
        self._key, self._updates = int(rng.integers(2**63)), 0
        self._list = ((np.empty(n_in * n_out, np.int64), np.empty(n_in * n_out, np.float32))
                      if engine == "numba" else None)

    def weights(self) -> np.ndarray:
        g = self.read.g
        return self.spec.gain_f * (g[0].astype(np.float64) - g[1]) / self.spec.w_scale

    def conductances(self) -> dict[str, np.ndarray]:
        return {"G+ (PCM)": self.read.g[0], "G- (PCM)": self.read.g[1]}

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        """``n = round_stochastic(dW w_scale / (F step_nom))`` partial SET pulses per cell
        (G+ for n > 0, G- for n < 0; the uniforms and each pulse's spread from counter-based
        streams, so the compiled path computes the same bits)."""
        s, read = self.spec, self.read
        k = np.float32(-lr * s.w_scale / s.gain_f) / np.float32(self.step_nom)
        base = (s.n_max + 1) * self._updates  # the rounding's key, then one per pulse
        self._updates += 1
        if self.engine == "numba" and read.single_transfer:
            hit, nh = self._list
            n = kernels.pulse_list(np.ascontiguousarray(x, np.float32),
                                   np.ascontiguousarray(d, np.float32), k,
                                   np.uint32(step_key(self._key, base)), s.n_max, hit, nh)
            (_, _, p0, _), (_, _, p1, _) = read.layers[0].terms(), read.layers[1].terms()
            flat, f32 = kernel_base.flat, np.float32
            pulses, changed = kernels.pcm_set(
                hit[:n], nh[:n], np.uint64(self._key), np.uint64(base + 1), *NORMAL_TABLES,
                s.pcm.g_reset, s.pcm.g_max, s.pcm.alpha * s.pcm.g_max, s.pcm.gamma,
                f32(s.pcm.sigma_step), flat(read.g[0]), flat(read.g[1]), flat(read.t),
                flat(p0), flat(p1), f32(read.gains[0]), f32(read.gains[1]))
            self.tally.add("update", "pcm_set_pulses", pulses)
            for arr in (0, 1):
                if changed >> arr & 1:  # as set_at of a non-empty list
                    read.mark_dirty(arr)
                    read.tick()
            return
        keys = [step_key(self._key, base + r) for r in range(s.n_max + 1)]
        rows, dw = sgd_rows(x, d, k)
        idx = (rows[:, None] * self.n_out + np.arange(self.n_out)).reshape(-1)
        n = round_pulses(dw.reshape(-1), 1.0, cell_uniforms(keys[0], idx), s.n_max)
        self.tally.add("update", "pcm_set_pulses", np.abs(n).sum(dtype=np.float64))
        for arr, sel in ((0, n > 0), (1, n < 0)):
            hit = idx[sel]
            if hit.size:
                g = read.g[arr].reshape(-1)[hit]
                new = pcm.partial_set(s.pcm, g, np.abs(n[sel]), None, normals=(
                    lambda r, pos, hit=hit: cell_normals(keys[1 + r], hit[pos])))
                read.set_at(arr, hit, new)

    def end_step(self, n_images: int) -> None:
        super().end_step(n_images)
        self.images += n_images
        self._since += n_images
        if self._since >= self.spec.transfer_every:
            self._since = 0
            self.flush_tally()
            self.tally.add("transfer", "transfers", 1)
            g = self.read.g
            gp, gn = _program_pair(self.spec, g[0].astype(np.float64) - g[1], self.rng,
                                   self.tally, "transfer")
            self.read.set_all(0, gp)
            self.read.set_all(1, gn)
            self.read.refresh()
            self.events.append({"image": self.images, "refresh": True})

    def info(self) -> dict[str, Any]:
        return {"step_nom_uS": self.step_nom * 1e6}
