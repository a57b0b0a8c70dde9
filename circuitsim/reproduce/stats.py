"""Statistics that decide a reproduction's claim: t-intervals over seeds, paired differences,
and the decision rules the reports state before they run.

Every configuration of a reproduction runs on the same seeds ``0..n-1`` (same initial weights,
sample order, device draws where the configurations share devices), so a comparison with the
reference is the **paired** difference per seed; its 95 % confidence interval is Student's t
interval of those n differences (``mean ± t(0.975, n-1) s / sqrt(n)``). Pairing removes the
seed-to-seed spread the two configurations share, which is most of it.

Rules (``margin`` in the metric's unit, "better" oriented so that negative is worse):

- **equivalent** when the whole interval lies within ``±margin``; **different** when the whole
  interval lies outside it (beyond ``+margin`` or ``-margin``); otherwise **undecided**: the
  data cannot tell at this n (more seeds narrow the interval by ``1/sqrt(n)``).
- **not worse** when the interval reaches ``-margin`` or above (``hi >= -margin``): the data are
  compatible with a loss of at most ``margin``; **worse** when the whole interval lies below
  ``-margin``.
- **needs >= k** (resolutions): the smallest setting from which on every finer setting is not
  worse than the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as sps

from circuitsim.spec import require

LEVEL = 0.95
METHOD = "Student t interval over seeds (paired differences for comparisons)"


@dataclass(frozen=True, slots=True)
class Interval:
    """Mean and two-sided confidence interval of n values (``lo``/``hi`` infinite for n = 1)."""

    mean: float
    lo: float
    hi: float
    n: int

    def text(self, scale: float = 1.0, digits: int = 2, sign: bool = False) -> str:
        f = f"{{:{'+' if sign else ''}.{digits}f}}"
        return (f"{f.format(scale * self.mean)} [{f.format(scale * self.lo)}, "
                f"{f.format(scale * self.hi)}]")

    def scaled(self, k: float) -> Interval:
        lo, hi = sorted((k * self.lo, k * self.hi))
        return Interval(k * self.mean, lo, hi, self.n)


def t_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Student's t interval of the mean of ``values``."""
    n = len(values)
    require(n >= 1, "values", list(values), "need at least one value")
    m = math.fsum(values) / n
    if n == 1:
        return Interval(m, -math.inf, math.inf, 1)
    s = math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * s / math.sqrt(n)
    return Interval(m, m - half, m + half, n)


def paired(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """Interval of the mean of ``a[i] - b[i]`` (the same seed i in both)."""
    require(len(a) == len(b), "seeds", (len(a), len(b)), "paired values need equal counts")
    return t_interval([x - y for x, y in zip(a, b, strict=True)], level)


def equivalence(diff: Interval, margin: float) -> str:
    """'equivalent', 'different' or 'undecided' (module docstring)."""
    if -margin <= diff.lo and diff.hi <= margin:
        return "equivalent"
    if diff.lo > margin or diff.hi < -margin:
        return "different"
    return "undecided"


def headline(decision: str) -> str:
    """The verdict's first word for an equivalence decision."""
    return {"equivalent": "Shown", "different": "Not shown"}.get(decision, "Undecided")


def not_worse(diff: Interval, margin: float) -> bool:
    """``diff`` (better-oriented) reaches ``-margin`` or above."""
    return diff.hi >= -margin


def needed(diffs: dict[int, Interval], margin: float) -> int | None:
    """Smallest setting from which on every larger one is not worse (None: not even the
    largest)."""
    need = None
    for k in sorted(diffs, reverse=True):
        if not not_worse(diffs[k], margin):
            break
        need = k
    return need
