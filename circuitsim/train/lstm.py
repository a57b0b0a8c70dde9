"""A one-layer LSTM built from *Weights* objects, trained by backpropagation through time.

Network. One recurrent weight matrix ``W`` of shape ``(n_in + H + 1, 4H)`` (gate columns in
the order i, f, o, g) is read once per time step with ``u_t = [x_t, h_{t-1}, 1]`` (the bias is
one more array row driven at 1, as in the MLP): ``z_t = W.forward(u_t)``, ``i, f, o =
sigmoid(z)``, ``g = tanh(z)``, ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``. An output
matrix ``(H + 1, n_classes)`` reads ``[h, 1]``. On an analog rule with ``act_bits > 0`` the
gate activations are the ramp-ADC tables of the activation surrogate (``sigmoid`` covers
about [-7, 7], ``tanh`` about [-3.5, 3.5]; inputs outside are clamped to the end codes), with
the ideal derivative in the backward pass (straight-through, :mod:`~circuitsim.train.acts`).
``tanh(c)`` and the cell state are computed digitally in float **[ours]**: the cell state is
a digital register between time steps, not an array output, so no ramp ADC sees it.

Tasks. ``kind == "sequence"`` (MNIST-1D, ``x`` (N, T, F)): one prediction per sequence from
the last ``h``. ``kind == "text"`` (``x``, ``y`` (N, T) char indices): one-hot inputs of size
``vocab`` and a next-char prediction at every step; the loss is the mean cross-entropy per
char (nats; ``/ ln 2`` for bits per char, :func:`bits_per_char`). ``step`` and ``evaluate``
return ``(summed loss, correct, count)`` with one count per prediction.

Training [ours where stated]. BPTT in numpy: the output error ``p - onehot`` (per prediction,
not divided by the count) is read back through ``out.backward``; at each step (last to
first) the gate errors ``dz_t`` are clipped elementwise to ``+-CLIP`` (gradient clipping by
norm would need the whole gradient, which an analog array never holds; elementwise clipping
acts on the per-step error vectors the periphery sees) and the recurrent part of the error
comes from the transposed analog read ``W.backward(dz_t)`` (with its periphery). Inputs and
gate errors of all steps are stacked and each matrix gets ONE ``update(x, d, lr / N)`` per
batch, ``N`` the number of predictions (B for sequences, B*T for text), so ``lr`` is the
learning rate of the *mean* loss. Keeping the per-prediction errors O(1) and scaling ``lr``
(rather than the errors) keeps the row and column pulse probabilities of the stochastic
pulse rule balanced (both ``~ sqrt(lr / N)``). The forget-gate bias starts at +1 (Gers et al.
2000; Jozefowicz et al. 2015) **[ours]**; on pulse devices it is clipped to the device bound
(``w_bound`` 0.6 by default) like every initial weight.

Sequence inputs get a digital gain ``SEQ_IN_GAIN = 3`` before the array **[ours]**: the data
module scales MNIST-1D to ``z / 3`` (``z`` unit std) so that values fit a DAC, but with noise
management the DAC range is set by ``max |u|`` anyway, and unit-std inputs shorten the LSTM's
initial plateau (float rule, hidden 32, batch 8, 8 epochs: 85 % test accuracy at lr 0.3 with
the gain; without it 10-13 % for the first 2-6 epochs, depending on lr); on RPU devices (|w|
<= 0.6) the ``z / 3`` inputs did not learn at all in 10 epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.train.acts import Act
from circuitsim.train.build import init_weights, make_weights
from circuitsim.train.mlp import softmax_xent

#: Elementwise clip of the per-step gate errors (per-prediction units, before the 1/N of lr).
CLIP = 1.0
#: Initial forget-gate bias.
FORGET_BIAS = 1.0
#: Digital gain on "sequence" inputs (the data module's MNIST-1D view is ``z / 3``).
SEQ_IN_GAIN = 3.0


def bits_per_char(loss_nats: float) -> float:
    """Cross-entropy per char in bits."""
    return float(loss_nats / np.log(2.0))


class LSTM:
    """LSTM layers (``recs``, input side first; ``rec`` the first) and a softmax read-out
    (``out``); see the module docstring. A stack feeds each layer's ``h`` sequence to the next
    layer's inputs; the error for a lower layer is the input part of the upper array's
    transposed read at each step (the same read that gives the upper layer's recurrent part)."""

    def __init__(self, rec: Any, out: Any, kind: str, n_in: int, hidden: int,
                 sigmoid: Act | None = None, tanh: Act | None = None, clip: float = CLIP,
                 dtype: type = np.float32, in_gain: float = 1.0, upper: tuple = ()):
        if kind not in ("sequence", "text"):
            raise ValueError(f"kind={kind!r}: must be 'sequence' or 'text'")
        self.recs = [rec, *upper]
        for k, r in enumerate(self.recs):
            width = n_in if k == 0 else hidden
            if r.n_in != width + hidden + 1 or r.n_out != 4 * hidden:
                raise ValueError(f"recurrent weights {k}: {r.n_in}x{r.n_out} != "
                                 f"{width + hidden + 1}x{4 * hidden}")
        if out.n_in != hidden + 1:
            raise ValueError(f"output weights have {out.n_in} rows, need {hidden + 1}")
        self.rec, self.out = rec, out
        self.layers = [*self.recs, out]
        self.kind, self.n_in, self.hidden, self.clip = kind, n_in, hidden, float(clip)
        self.in_gain = float(in_gain)
        self.sig = sigmoid or Act("sigmoid")
        self.tanh = tanh or Act("tanh")
        self.dtype = dtype  # float64 only for gradient checks (with float64 weights)

    # ------------------------------------------------------------------------------ forward

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        """(B, T, n_in) float32 inputs (one-hot chars for text)."""
        if self.kind == "text":
            idx = np.asarray(x)
            xs = np.zeros((*idx.shape, self.n_in), self.dtype)
            np.put_along_axis(xs, idx[..., None], 1.0, axis=-1)
            return xs
        xs = np.asarray(x, self.dtype)
        return xs * self.dtype(self.in_gain) if self.in_gain != 1.0 else xs

    def _layer(self, rec: Any, xs: np.ndarray) -> dict[str, np.ndarray]:
        """One layer over the (T, B, n) input sequence ``xs``: its states and ``h`` (T, B, H)."""
        t_len, b, n_in = xs.shape
        hid = self.hidden
        u = np.zeros((t_len, b, n_in + hid + 1), self.dtype)
        u[:, :, :n_in] = xs
        u[:, :, -1] = 1.0
        z = np.empty((t_len, b, 4 * hid), self.dtype)
        a = np.empty_like(z)  # gate values i, f, o, g
        c = np.empty((t_len + 1, b, hid), self.dtype)
        c[0] = 0.0
        tc = np.empty((t_len, b, hid), self.dtype)
        h = np.zeros((b, hid), self.dtype)
        hs = np.empty((t_len, b, hid), self.dtype)
        for t in range(t_len):
            u[t, :, n_in:n_in + hid] = h
            z[t] = rec.forward(u[t])
            a[t, :, :3 * hid] = self.sig(z[t, :, :3 * hid])
            a[t, :, 3 * hid:] = self.tanh(z[t, :, 3 * hid:])
            i, f = a[t, :, :hid], a[t, :, hid:2 * hid]
            o, g = a[t, :, 2 * hid:3 * hid], a[t, :, 3 * hid:]
            c[t + 1] = f * c[t] + i * g
            tc[t] = np.tanh(c[t + 1])
            h = o * tc[t]
            hs[t] = h
        return {"u": u, "z": z, "a": a, "c": c, "tc": tc, "hs": hs, "n_in": n_in}

    def _forward(self, x: np.ndarray) -> dict[str, Any]:
        seq = self._inputs(x).transpose(1, 0, 2)
        states = []
        for rec in self.recs:
            states.append(self._layer(rec, seq))
            seq = states[-1]["hs"]
        hid = self.hidden
        hout = seq if self.kind == "text" else seq[-1:]  # (T', B, H)
        v = np.ones((*hout.shape[:2], hid + 1), self.dtype)
        v[:, :, :hid] = hout
        v = v.reshape(-1, hid + 1)
        return {"layers": states, "v": v, "logits": self.out.forward(v)}

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """Targets in the order of the logits rows (time-major for text)."""
        return np.asarray(y).T.reshape(-1) if self.kind == "text" else np.asarray(y)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int, int]:
        """(summed loss, correct, count) of a forward pass, no update."""
        tgt = self._targets(y)
        _, loss, correct = softmax_xent(self._forward(x)["logits"], tgt)
        return loss, correct, len(tgt)

    # ----------------------------------------------------------------------------- backward

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int, int, list]:
        """Forward and BPTT; returns (summed loss, correct, count, [(inputs, errors)] per
        layer), errors per prediction (the gradient of the summed loss is ``inputs.T @
        errors``, of the mean loss that divided by ``count``)."""
        st = self._forward(x)
        tgt = self._targets(y)
        p, loss, correct = softmax_xent(st["logits"], tgt)
        p[np.arange(len(tgt)), tgt] -= 1.0
        dy = p.astype(self.dtype)
        hid = self.hidden
        top = st["layers"][-1]
        t_len, b = top["u"].shape[:2]
        dh_ext = np.zeros((t_len, b, hid), self.dtype)  # errors on h from above, per step
        dh_out = self.out.backward(dy)[:, :hid].reshape(-1, b, hid)
        if self.kind == "text":
            dh_ext[:] = dh_out
        else:
            dh_ext[-1] = dh_out[0]
        grads = [(st["v"], dy)]
        for k in range(len(self.recs) - 1, -1, -1):
            dz, dh_ext = self._layer_backward(self.recs[k], st["layers"][k], dh_ext, k > 0)
            u = st["layers"][k]["u"]
            grads.insert(0, (u.reshape(t_len * b, -1), dz.reshape(t_len * b, -1)))
        return loss, correct, len(tgt), grads

    def _layer_backward(self, rec: Any, st: dict[str, Any], dh_ext: np.ndarray,
                        need_dx: bool) -> tuple[np.ndarray, np.ndarray]:
        """Gate errors of one layer (clipped) and, with ``need_dx``, the errors on its inputs
        (the lower layer's ``h``)."""
        hid, n_in = self.hidden, st["n_in"]
        z, a, c, tc = st["z"], st["a"], st["c"], st["tc"]
        t_len, b = z.shape[:2]
        dz = np.empty_like(z)
        dx = np.zeros((t_len, b, n_in), self.dtype) if need_dx else dh_ext
        dh_next = np.zeros((b, hid), self.dtype)
        dc_next = np.zeros((b, hid), self.dtype)
        for t in range(t_len - 1, -1, -1):
            dh = dh_next + dh_ext[t]
            i, f = a[t, :, :hid], a[t, :, hid:2 * hid]
            o, g = a[t, :, 2 * hid:3 * hid], a[t, :, 3 * hid:]
            dc = dh * o * (1.0 - tc[t] * tc[t]) + dc_next
            dz[t, :, :hid] = dc * g
            dz[t, :, hid:2 * hid] = dc * c[t]
            dz[t, :, 2 * hid:3 * hid] = dh * tc[t]
            dz[t, :, :3 * hid] *= self.sig.grad(z[t, :, :3 * hid])
            dz[t, :, 3 * hid:] = dc * i * self.tanh.grad(z[t, :, 3 * hid:])
            np.clip(dz[t], -self.clip, self.clip, out=dz[t])
            dc_next = dc * f
            if t or need_dx:
                back = rec.backward(dz[t])
                dh_next = back[:, n_in:n_in + hid]
                if need_dx:
                    dx[t] = back[:, :n_in]
        return dz, dx

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int, int]:
        """One SGD step on the batch (one update per weight matrix); (summed loss, correct,
        count) of its forward pass."""
        loss, correct, count, grads = self.gradients(x, y)
        for layer, (inputs, errors) in zip(self.layers, grads, strict=True):
            layer.update(inputs, errors, lr / count)
        for layer in self.layers:
            layer.end_step(len(x))
        return loss, correct, count


def init_lstm(n_in: int, hidden: int, n_classes: int, rng: np.random.Generator,
              n_layers: int = 1) -> list[np.ndarray]:
    """Initial weights (float32): the first recurrent matrix (Glorot uniform, forget bias +1),
    the output matrix, then the recurrent matrices of the layers above the first."""
    def rec(width: int) -> np.ndarray:
        w = init_weights(width + hidden + 1, 4 * hidden, rng)
        w[-1, hidden:2 * hidden] = FORGET_BIAS
        return w

    first = rec(n_in)
    out = init_weights(hidden + 1, n_classes, rng)
    return [first, out, *(rec(hidden) for _ in range(n_layers - 1))]


def gate_acts(spec: Any, sur: Any) -> tuple[Act, Act]:
    """Sigmoid and tanh gate activations: ramp-ADC tables on an analog rule with
    ``act_bits > 0``, else float."""
    if spec.analog and spec.act_bits and sur.adc is not None:
        compiled = spec.engine == "numba"
        return (Act("sigmoid", sur.adc.table("sigmoid", spec.act_bits), compiled),
                Act("tanh", sur.adc.table("tanh", spec.act_bits), compiled))
    return Act("sigmoid"), Act("tanh")


#: Most stacked LSTM layers (each layer's devices draw from one of the run's seed streams).
MAX_LSTM_LAYERS = 4


def build_lstm(spec: Any, ds: Any, sur: Any, seeds: list[np.random.SeedSequence]) -> LSTM:
    """The LSTM of ``spec`` (a TrainSpec) for dataset ``ds``: ``seeds[0]`` draws the initial
    weights, ``seeds[2 + k]`` feeds matrix ``k`` (0: first recurrent, 1: output, 2...: the
    recurrent matrices of the layers above); ``spec.widths`` gives the layers (equal widths)."""
    if ds.kind not in ("sequence", "text"):
        raise SpecError(f"dataset={ds.name!r}: a {ds.kind} data set, the LSTM needs sequences "
                        "or text")
    if spec.rule == "sbp":
        raise SpecError("rule='sbp': sign backprop's binary/ternary interfaces are defined for "
                        "the MLP only, not for the LSTM")
    widths = spec.widths
    if len(set(widths)) != 1 or len(widths) > MAX_LSTM_LAYERS:
        raise SpecError(f"layers={list(widths)}: a stacked LSTM needs 1..{MAX_LSTM_LAYERS} "
                        "layers of equal width")
    n_in = ds.n_classes if ds.kind == "text" else int(ds.x_train.shape[2])
    hidden = widths[0]
    w0s = init_lstm(n_in, hidden, ds.n_classes, np.random.default_rng(seeds[0]), len(widths))
    layers = [make_weights(spec, sur, w0, np.random.default_rng(seeds[2 + k]), k == 1)
              for k, w0 in enumerate(w0s)]
    sig, tanh = gate_acts(spec, sur)
    gain = SEQ_IN_GAIN if ds.kind == "sequence" else 1.0
    return LSTM(layers[0], layers[1], ds.kind, n_in, hidden, sig, tanh, in_gain=gain,
                upper=tuple(layers[2:]))
