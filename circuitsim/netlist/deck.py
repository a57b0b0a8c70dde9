"""Assemble a deck (title, header, model cards, body, analyses) into byte-stable text."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

from circuitsim.errors import NetlistError
from circuitsim.netlist.fmt import name, text_line
from circuitsim.netlist.safety import check_deck
from circuitsim.netlist.technology import PTM_LIBRARY, TechnologySpec, deck_lines

#: The package's model libraries (``circuitsim/models`` links to the repository's ``models/``).
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"

#: Model libraries shipped in ``models/`` (see models/README.md for provenance).
MODEL_FILES = {PTM_LIBRARY: "ptm45hp.lib"}

#: Options written into every deck: the KLU sparse solver (ngspice >= 42 built with KLU).
OPTIONS = ".options klu"


@functools.cache
def model_library(key: str) -> str:
    """Text of a model library from ``models/`` (read once; it is a constant of the package)."""
    if key not in MODEL_FILES:
        raise NetlistError(f"unknown model library {key!r} (known: {', '.join(MODEL_FILES)})")
    path = MODELS_DIR / MODEL_FILES[key]
    try:
        return path.read_text().rstrip("\n")
    except OSError as exc:
        raise NetlistError(f"model library {path} not readable: {exc}") from exc


def render(title: str, header: Sequence[str], body: Iterable[str],
           models: Sequence[str] = (), control: Sequence[str] = (),
           technology: TechnologySpec | None = None) -> str:
    """Render a complete deck.

    ``title`` and ``header`` are generated text (spec summary); ``models`` are keys of
    :data:`MODEL_FILES` whose cards are inlined so the deck runs on its own; ``technology``
    (when not PTM, whose cards come through ``models``) adds its library line and mismatch
    seed; ``control`` holds dot-lines such as ``.tran``/``.meas``/``.save`` (never a
    ``.control`` block).
    """
    parts = [f"* {text_line(title)}", *(f"* {text_line(h)}" for h in header), OPTIONS, ""]
    tech_lines = deck_lines(technology) if technology is not None else []
    if tech_lines:
        parts += [f"* ---- transistors: {text_line(technology.label())}", *tech_lines, ""]
    for key in models:
        parts += [f"* ---- model library {name(key, 'model library')} (models/{MODEL_FILES[key]})",
                  model_library(key), ""]
    parts += list(body)
    if control:
        parts += ["", *control]
    parts.append(".end")
    text = "\n".join(parts) + "\n"
    check_safe(text, tech_lines[:1])
    return text


def check_safe(text: str, library_lines: Sequence[str] = ()) -> None:
    """Final guard on a generated deck: printable ASCII, every line in the allowlist
    (:mod:`circuitsim.netlist.safety`) but the ``library_lines`` the generator wrote itself
    (their files are vetted when the deck runs)."""
    for line in text.split("\n"):
        if not all(" " <= ch <= "~" or ch == "\t" for ch in line):
            raise NetlistError(f"deck line holds a non-printable character: {line[:60]!r}")
    skip = set(library_lines)
    check_deck("\n".join("*" if line in skip else line for line in text.split("\n")),
               "generated deck")
