"""Multi-layer perceptrons trained by backpropagation with per-layer *Weights* objects.

Every layer is ``z = [a, 1] @ W`` (the bias is one more array row driven at 1), hidden
activations ``a = f(z)`` (float or ramp-ADC table, :mod:`~circuitsim.train.acts`), a
softmax cross-entropy loss on the last layer's outputs (computed digitally). ``step`` does a
forward pass, the backward pass through ``Weights.backward`` (the transposed read of the same
arrays) and ``Weights.update(a_in, d, lr)`` per layer.

Sign backpropagation (``sbp=SbpSpec``, the SBP paper's interfaces): inputs are binarised
(``x > 0.5``) and hidden outputs thresholded to 0/1 (``z > 0``), so every forward read drives
0 or V_read. Errors are ternary. At the output they are the signs of a one-vs-all hinge:
``-1`` where the target unit is below ``+margin``, ``+1`` where another unit is above
``-margin``, else 0 (an unbalanced dead zone on ``softmax - onehot`` pushed every weight to
its bound in our runs). At a hidden layer ``d = sign(b) [|b| > theta_hidden max|b|]`` with
``b = backward(d_next) * [|z| < window]`` (the step's straight-through window) [ours,
consistent with the paper]. The update is the weights' Manhattan rule (one pulse per weight
in the sign of ``-x d``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuitsim.spec import check_types, param, positive, require
from circuitsim.train.acts import Act


@dataclass(frozen=True, slots=True)
class SbpSpec:
    """Thresholds of sign backpropagation's ternary errors."""

    margin: float = param(1.0, "output margin: the target unit must exceed +margin, the "
                               "others stay below -margin")
    theta_hidden: float = param(0.5, "hidden dead zone, fraction of the vector's max |error|")
    window: float = param(1.0, "straight-through window of the 0/1 step: |z| < window")
    step: float = param(0.005, "weight step of one SET/RESET pulse (replaces rpu.dw_min)")
    step_decay: float = param(1.0, "factor on every device's step after each epoch: a "
                                   "shorter pulse, annealing like a decaying learning rate "
                                   "[ours]")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "window", "step")
        require(0 < self.step_decay <= 1, "step_decay", self.step_decay, "must lie in (0, 1]")
        require(self.margin >= 0, "margin", self.margin, "must be >= 0")
        require(0 <= self.theta_hidden < 1, "theta_hidden", self.theta_hidden,
                "must lie in [0, 1)")


def _with_bias(a: np.ndarray) -> np.ndarray:
    out = np.empty((a.shape[0], a.shape[1] + 1), np.float32)
    out[:, :-1] = a
    out[:, -1] = 1.0
    return out


def softmax_xent(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Softmax probabilities, summed cross-entropy and the number of correct argmaxes."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(np.maximum(p[rows, y], 1e-12)).sum())
    return p, loss, int(np.count_nonzero(z.argmax(axis=1) == y))


def ternary(v: np.ndarray, theta: np.ndarray | float) -> np.ndarray:
    """``sign(v)`` where ``|v| > theta``, else 0 (float32)."""
    return (np.sign(v) * (np.abs(v) > theta)).astype(np.float32)


class MLP:
    """A stack of Weights with hidden activation ``act`` (or SBP's 0/1 steps)."""

    def __init__(self, layers: list, act: Act, sbp: SbpSpec | None = None):
        self.layers, self.act, self.sbp = layers, act, sbp

    def _forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        a = (x > 0.5).astype(np.float32) if self.sbp else np.asarray(x, np.float32)
        inputs, zs = [], []
        for k, layer in enumerate(self.layers):
            a_in = _with_bias(a)
            z = layer.forward(a_in)
            inputs.append(a_in)
            zs.append(z)
            if k < len(self.layers) - 1:
                a = (z > 0).astype(np.float32) if self.sbp else self.act(z)
        return inputs, zs

    def _sbp_out(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ternary output errors: -1 where the target unit is below ``+margin``, +1 where
        another unit is above ``-margin``, else 0 (one-vs-all hinge signs)."""
        m = self.sbp.margin
        target = np.zeros(z.shape, bool)
        target[np.arange(len(y)), y] = True
        return np.where(target, -(z < m).astype(np.float32), (z > -m).astype(np.float32))

    def end_epoch(self) -> None:
        """SBP: every device's pulse step times ``sbp.step_decay`` (the next epoch's
        shorter SET/RESET pulse)."""
        if self.sbp is not None and self.sbp.step_decay != 1:
            for layer in self.layers:
                layer.dev.scale_steps(self.sbp.step_decay)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self._forward(x)[1][-1]

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int, int]:
        """(summed loss, correct, count) of a forward pass, no update."""
        _, loss, correct = softmax_xent(self.logits(x), y)
        return loss, correct, len(y)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int, int]:
        """One SGD step on the batch; (summed loss, correct, count) of its forward."""
        inputs, zs = self._forward(x)
        p, loss, correct = softmax_xent(zs[-1], y)
        p[np.arange(len(y)), y] -= 1.0
        sbp = self.sbp
        d = self._sbp_out(zs[-1], y) if sbp else p / np.float32(len(y))
        for k in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[k]
            back = layer.backward(d)[:, :-1] if k else None
            layer.update(inputs[k], d, lr)
            if back is not None:
                z = zs[k - 1]
                if sbp:
                    b = back * (np.abs(z) < sbp.window)
                    scale = np.max(np.abs(b), axis=1, keepdims=True)
                    d = ternary(b, sbp.theta_hidden * scale)
                else:
                    d = (back * self.act.grad(z)).astype(np.float32)
        for layer in self.layers:
            layer.end_step(len(y))
        return loss, correct, len(y)
