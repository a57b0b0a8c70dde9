"""The deck as ngspice runs it: the user's checked lines plus circuitsim's fixed control block.

Both backends run exactly :func:`runnable`'s text (the batch backend from ``deck.cir``, the
shared one line by line), and a kept run directory's ``deck.cir`` turns back into the deck with
:func:`unrunnable`.
"""

from __future__ import annotations

from collections.abc import Sequence

from circuitsim.errors import NetlistError
from circuitsim.netlist.safety import ModelLibrary, check_deck

#: The control block the runner appends to a deck (fixed text, never user input): run the
#: deck's analyses (its ``.meas`` lines are evaluated) and write the saved vectors as binary raw.
#: ``num_threads=1``: one ngspice per process is the parallelism; the stock spinit's 8 OpenMP
#: threads make a small BSIM4 deck 3x slower on 2 cores (58 ms instead of 19 ms, measured).
CONTROL = (".control", "set filetype=binary", "set num_threads=1", "run", "write out.raw",
           "quit", ".endc")


def runnable(deck: str, libraries: Sequence[ModelLibrary] = ()) -> str:
    """The deck as run: its own lines up to ``.end`` plus :data:`CONTROL`.

    Refused (:class:`NetlistError`, a user-input error): any line outside the allowlist of
    :mod:`circuitsim.netlist.safety` (include lines only as written for ``libraries``, which
    are re-vetted), and a deck that does not end with ``.end``."""
    deck = deck.replace("\r\n", "\n")
    check_deck(deck, "deck", libraries)
    lines = deck.rstrip().split("\n")
    if lines[-1].strip().lower() != ".end":
        raise NetlistError("deck does not end with .end")
    return "\n".join([*lines[:-1], *CONTROL, ".end"]) + "\n"


def unrunnable(text: str) -> str:
    """The deck a :func:`runnable` text came from (its :data:`CONTROL` block removed)."""
    lines = text.rstrip().splitlines()
    n = len(CONTROL)
    if len(lines) > n and tuple(lines[-n - 1:-1]) == CONTROL:
        lines = [*lines[:-n - 1], lines[-1]]
    return "\n".join(lines) + "\n"
