"""Checks: measured figures with optional bounds, and their table.

Characterization summaries and surrogate validations (against held-out SPICE runs) both
report :class:`Check` rows, so the type lives below both layers. A :class:`Check` is one
measured figure (an error, a match rate) with its unit and, when the
figure has a bound to meet, the bound and which way it goes. :func:`format_table` prints the
table ``circuitsim surrogate validate`` shows; :func:`to_json`/:func:`from_json` keep it in
a surrogate's sidecar.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Check:
    """One fidelity figure: ``value`` in ``unit``; passes if ``value <= bound`` (``at_most``)
    or ``value >= bound`` (``at_least``); ``bound=None`` means reported only."""

    name: str
    value: float
    unit: str
    bound: float | None = None
    sense: Literal["at_most", "at_least"] = "at_most"
    detail: str = ""

    @property
    def passed(self) -> bool | None:
        if self.bound is None:
            return None
        if math.isnan(self.value):
            return False
        return self.value <= self.bound if self.sense == "at_most" else self.value >= self.bound

    @property
    def status(self) -> str:
        return {None: "-", True: "pass", False: "FAIL"}[self.passed]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def format_table(checks: list[Check], title: str = "",
                 group: Callable[[Check], str] | None = None) -> str:
    """A Markdown table: check, value, bound, status, detail (``|`` in text escaped);
    ``group`` names each check's row group (e.g. a MAC read mode): a bold row opens every
    group."""
    lines = [f"### {title}", ""] if title else []
    lines += ["| check | value | bound | status | detail |", "|---|---|---|---|---|"]
    current = None
    for c in checks:
        if group is not None and group(c) != current:
            current = group(c)
            lines.append(f"| **{_cell(current)}** | | | | |")
        bound = "" if c.bound is None else ("≤ " if c.sense == "at_most" else "≥ ") + \
            f"{_fmt(c.bound)} {c.unit}"
        lines.append(f"| {_cell(c.name)} | {_fmt(c.value)} {c.unit} | {bound} | {c.status} | "
                     f"{_cell(c.detail)} |")
    return "\n".join(lines)


def all_passed(checks: list[Check]) -> bool:
    return all(c.passed is not False for c in checks)


def to_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]


def from_json(rows: list[dict[str, Any]]) -> list[Check]:
    return [Check(**row) for row in rows]
