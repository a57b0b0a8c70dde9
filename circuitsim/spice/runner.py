"""``simulate(deck, options) -> TranResult``: the one entry point for running a deck.

Backends: ``shared`` runs libngspice through PySpice inside a worker process
(:mod:`circuitsim.spice.pool`; in this process when it is one); ``batch`` runs ``ngspice -b`` in
a subprocess and parses its binary raw file; ``auto`` (default) picks ``shared`` for decks of
up to :data:`AUTO_BATCH_LINES` lines, where its lower per-run overhead wins, and ``batch``
above, where the ngspice executable's faster solver wins (measured with MAC decks, median of 5:
16x16, 1.4k lines, shared/batch wall time 0.86; 32x32, 5.4k lines, 0.96; 48x48, 11.9k lines,
1.21; 64x64, 20.9k lines, 1.07 -- Debian's libngspice factors the same matrices ~7 % slower
than its ngspice executable). Both give the same vector names, waveforms and
``.meas`` values, and raise :class:`~circuitsim.errors.SimError` (deck, log, kept run
directory) on failure.
"""

from __future__ import annotations

from circuitsim.spice.control import runnable
from circuitsim.spice.ngspice import run_batch
from circuitsim.spice.options import AUTO_BATCH_LINES, SimOptions
from circuitsim.spice.result import TranResult
from circuitsim.spice.shared_backend import simulate_shared

__all__ = ["SimOptions", "simulate"]


def simulate(deck: str, options: SimOptions | None = None) -> TranResult:
    """Run ``deck`` and return its waveforms and ``.meas`` values (raises ``SimError``; a deck
    outside the allowlist raises ``NetlistError`` before any simulator is looked for)."""
    options = options or SimOptions()
    runnable(deck, options.libraries)
    backend = options.backend
    if backend == "auto":
        backend = "batch" if deck.count("\n") > AUTO_BATCH_LINES else "shared"
    if backend == "batch":
        return run_batch(deck, timeout=options.timeout, keep_dir=options.keep_dir,
                         libraries=options.libraries)
    return simulate_shared(deck, options)
