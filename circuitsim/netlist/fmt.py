"""The single number formatter and the name validator used by every generator.

Numbers are never pasted into a deck as user text: they pass through :func:`num`, which emits
plain decimal/exponent notation (no SPICE scale suffixes, so ``M``/``MEG`` confusion cannot
arise) with 12 significant digits, identically on every platform.
Names (nodes, elements, models, subcircuits) must match :data:`NAME_RE`, which admits no
whitespace, no quotes, no dots and no control characters, so no user string can start a new
SPICE line, a dot-command or a ``.control`` block.
"""

from __future__ import annotations

import math
import re

from circuitsim.errors import NetlistError

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def num(x: float) -> str:
    """Format a finite number for a deck: ``1e-13``, ``0.5``, ``-2.2e-06``, ``0``."""
    x = float(x)
    if not math.isfinite(x):
        raise NetlistError(f"cannot write non-finite number {x!r} into a deck")
    if x == 0.0:
        return "0"
    return f"{x:.12g}"


def text_line(text: str) -> str:
    """``text`` if it is one line of printable ASCII (for comments and titles), else raise.

    Control characters are refused because ngspice (and Python's ``splitlines``) treat some of
    them (``\r``, ``\v``, ``\f``, ``\x1c``-``\x1e``, ``\x85``) as line breaks."""
    if not isinstance(text, str) or not all(" " <= ch <= "~" for ch in text):
        raise NetlistError(f"deck text must be one line of printable ASCII, got {text!r}")
    return text


def node(value: str) -> str:
    """Return ``value`` if it is a safe node name (an identifier, or ``0`` for ground)."""
    return value if value == "0" else name(value, "node name")


def name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a safe SPICE identifier, else raise naming ``what``."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise NetlistError(
            f"invalid {what} {value!r}: use a letter then letters, digits or '_' (max 64)"
        )
    return value
