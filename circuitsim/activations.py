"""Activation functions realised by the ramp ADC, their ideal codes and their code thresholds.

Design [ours, after Yang et al. 2025]: a ``B``-bit ramp ADC with a pre-distorted ramp outputs
the code of ``f(x)`` directly. With the output normalisation range ``[lo, hi]`` of ``f`` the
ideal code is::

    code(x) = clip(round((2^B - 1) * (f(x) - lo) / (hi - lo)), 0, 2^B - 1)

(round half up; for the sigmoid, ``lo = 0, hi = 1``, this is ``round((2^B - 1) * f(x))``).
Code ``k`` (1 .. 2^B - 1) is reached exactly when ``f(x) >= lo + (k - 1/2)(hi - lo)/(2^B - 1)``,
so its input threshold is ``x_k = f^-1(that level)``, found by bracketing on a dense grid of
the input range followed by Brent's method, so any monotonic non-decreasing callable works.
A callable that decreases anywhere on the input range is rejected with a :class:`SpecError`
that names it and the place where it decreases.

Built-ins (the CLI looks them up by name with :func:`get_activation`; user text is never
evaluated): ``sigmoid`` on [-7, 7] (lo 0, hi 1), ``tanh`` on [-3.5, 3.5] (lo -1, hi 1),
``relu`` on [-1, 1] (lo 0, hi = relu(x_max)) and ``identity`` on [-1, 1] (lo = x_min,
hi = x_max). The sigmoid and tanh ranges are wide enough that every threshold up to 8 bits
lies inside them (sigmoid(-7) = 9.1e-4 < 0.5/255).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.spec import short

#: Points of the grid on which monotonicity is checked and thresholds are bracketed.
GRID_POINTS = 4097


@dataclass(frozen=True, slots=True)
class Activation:
    """A monotonic non-decreasing activation ``f`` with its input and output ranges.

    ``f`` maps a numpy array to an array of the same shape (plain scalar callables are
    evaluated point by point). ``x_min``/``x_max`` is the default input range. ``lo``/``hi``
    is the output range mapped onto codes ``0 .. 2^B - 1``; ``None`` means ``f(x_min)`` /
    ``f(x_max)`` (so identity and relu follow a changed input range).
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    x_min: float
    x_max: float
    lo: float | None = None
    hi: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.x_min) and np.isfinite(self.x_max) and self.x_min < self.x_max):
            raise SpecError(f"x_min={self.x_min!r}: activation {self.name!r} needs a finite "
                            f"input range with x_min < x_max (x_max={self.x_max!r})")

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        return evaluate(self.f, np.asarray(x, dtype=float))

    @property
    def bounds(self) -> tuple[float, float]:
        """The resolved output normalisation range ``(lo, hi)``."""
        lo = float(self(self.x_min)) if self.lo is None else float(self.lo)
        hi = float(self(self.x_max)) if self.hi is None else float(self.hi)
        if not hi > lo:
            raise SpecError(f"activation={self.name!r}: output range needs hi > lo "
                            f"(lo={lo!r}, hi={hi!r})")
        return lo, hi

    def with_range(self, x_min: float | None = None, x_max: float | None = None) -> Activation:
        """The same function on another input range (``None`` keeps the current bound)."""
        return replace(self, x_min=self.x_min if x_min is None else float(x_min),
                       x_max=self.x_max if x_max is None else float(x_max))

    def levels(self, bits: int) -> np.ndarray:
        """Output levels at which codes ``1 .. 2^B - 1`` begin, shape ``(2^B - 1,)``."""
        lo, hi = self.bounds
        n = 2**bits - 1
        return lo + (np.arange(1, n + 1) - 0.5) * (hi - lo) / n

    def code(self, x: np.ndarray | float, bits: int) -> np.ndarray:
        """Ideal ``bits``-bit code of ``f(x)`` (integer array, the shape of ``x``)."""
        lo, hi = self.bounds
        n = 2**bits - 1
        scaled = n * (self(x) - lo) / (hi - lo)
        return np.clip(np.floor(scaled + 0.5), 0, n).astype(int)

    def check_monotonic(self) -> None:
        """Raise :class:`SpecError` naming ``f`` and the place where it decreases, if it does."""
        grid = np.linspace(self.x_min, self.x_max, GRID_POINTS)
        y = self(grid)
        if not np.all(np.isfinite(y)):
            bad = grid[~np.isfinite(y)][0]
            raise SpecError(f"activation={self.name!r}: f is not finite at x={bad:.6g}")
        scale = max(float(np.max(np.abs(y))), 1e-300)
        drops = np.nonzero(np.diff(y) < -1e-12 * scale)[0]
        if drops.size:
            i = int(drops[0])
            raise SpecError(
                f"activation={self.name!r}: not monotonic non-decreasing on "
                f"[{self.x_min:g}, {self.x_max:g}]; it decreases between x={grid[i]:.6g} "
                f"(f={y[i]:.6g}) and x={grid[i + 1]:.6g} (f={y[i + 1]:.6g})")

    def thresholds(self, bits: int) -> np.ndarray:
        """Input thresholds ``x_1 .. x_{2^B - 1}``: code ``k`` starts at ``x_k``.

        Raises :class:`SpecError` if ``f`` is not monotonic or a threshold falls outside the
        input range (widen ``x_min``/``x_max``).
        """
        self.check_monotonic()
        grid = np.linspace(self.x_min, self.x_max, GRID_POINTS)
        y = self(grid)
        out = []
        for k, level in enumerate(self.levels(bits), start=1):
            if level <= y[0] or level > y[-1]:
                side, field, bound = (("below", "x_min", self.x_min) if level <= y[0]
                                      else ("above", "x_max", self.x_max))
                raise SpecError(
                    f"{field}={bound!r}: the threshold of code {k} of {self.name!r} "
                    f"(f = {level:.6g}) lies {side} the input range; widen the range")
            j = int(np.searchsorted(y, level, side="left"))  # first grid point with f >= level
            a, b = grid[j - 1], grid[j]
            if y[j] == level:
                out.append(float(b))
                continue
            tol = 1e-13 * (self.x_max - self.x_min)
            out.append(brentq(lambda t, y=level: float(self(t)) - y, float(a), float(b), tol))
        return np.asarray(out)


def evaluate(f: Callable, x: np.ndarray) -> np.ndarray:
    """``f(x)`` as a float array of ``x``'s shape; scalar-only callables are mapped."""
    try:
        y = np.asarray(f(x), dtype=float)
        if y.shape == x.shape:
            return y
    except (TypeError, ValueError):
        pass
    flat = [float(f(float(v))) for v in x.ravel()]
    return np.asarray(flat, dtype=float).reshape(x.shape)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(x, dtype=float), 0.0)


def _identity(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float)


#: The built-in activations, by name.
BUILTINS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, -7.0, 7.0, 0.0, 1.0),
    "tanh": Activation("tanh", np.tanh, -3.5, 3.5, -1.0, 1.0),
    "relu": Activation("relu", _relu, -1.0, 1.0, 0.0, None),
    "identity": Activation("identity", _identity, -1.0, 1.0, None, None),
}


def get_activation(name: str) -> Activation:
    """The built-in activation called ``name`` (names only; nothing is evaluated)."""
    if name not in BUILTINS:
        raise SpecError(f"activation={short(name)}: unknown (known: {', '.join(BUILTINS)})")
    return BUILTINS[name]


def tabulated(xs: tuple[float, ...], fs: tuple[float, ...]) -> Activation:
    """A piecewise-linear activation through the points ``(xs[i], fs[i])`` (e.g. a measured
    curve), on the input range ``[xs[0], xs[-1]]``. Monotonicity is checked where it is used."""
    x, y = np.asarray(xs, dtype=float), np.asarray(fs, dtype=float)
    if len(x) < 2 or len(x) != len(y):
        raise SpecError(f"table_x={xs!r}: needs >= 2 points and as many as table_f ({len(y)})")
    if not np.all(np.diff(x) > 0):
        raise SpecError(f"table_x={xs!r}: must be strictly increasing")
    return Activation("table", lambda v: np.interp(v, x, y), float(x[0]), float(x[-1]))


def as_activation(f: Activation | str | Callable, x_min: float | None = None,
                  x_max: float | None = None) -> Activation:
    """An :class:`Activation` from a built-in name, an Activation or a plain callable.

    A plain callable needs ``x_min``/``x_max``; its output range is ``[f(x_min), f(x_max)]``.
    Given bounds replace the activation's default input range.
    """
    if isinstance(f, str):
        act = get_activation(f)
    elif isinstance(f, Activation):
        act = f
    elif callable(f):
        if x_min is None or x_max is None:
            raise SpecError(f"activation={getattr(f, '__name__', f)!r}: a plain callable "
                            "needs x_min and x_max")
        return Activation(getattr(f, "__name__", "custom"), f, float(x_min), float(x_max))
    else:
        raise SpecError(f"activation={f!r}: expected a name, an Activation or a callable")
    return act.with_range(x_min, x_max)


def brentq(f: Callable[[float], float], a: float, b: float, xtol: float,
           rtol: float = 4 * np.finfo(float).eps, maxiter: int = 100) -> float:
    """A root of ``f`` in ``[a, b]`` (``f(a)``, ``f(b)`` of opposite signs): a line-for-line
    port of SciPy's ``brentq`` (``scipy/optimize/Zeros/brentq.c``, BSD-3-Clause), so the
    ramp designs keep their values bit for bit without importing ``scipy.optimize``
    (0.35 s, paid by every worker process and CLI start that designs a ramp)."""
    xpre, xcur = a, b
    xblk = fblk = spre = scur = 0.0
    fpre, fcur = f(xpre), f(xcur)
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if math.copysign(1, fpre) == math.copysign(1, fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and math.copysign(1, fpre) != math.copysign(1, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):  # good short step
                spre, scur = scur, stry
            else:  # bisect
                spre = scur = sbis
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    return xcur
