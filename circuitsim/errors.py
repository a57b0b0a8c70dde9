"""The one exception hierarchy of circuitsim.

Every error a user can cause derives from :class:`CircuitsimError`; the CLI turns it into a
one-line message and exit code 2 (user input) or 1 (simulation/setup failure).
"""

from __future__ import annotations

from pathlib import Path


class CircuitsimError(Exception):
    """Base class of every circuitsim error."""

    exit_code = 1


class SpecError(CircuitsimError, ValueError):
    """A spec field (or a value given for one) is invalid. The message names field and value."""

    exit_code = 2


class NetlistError(CircuitsimError):
    """A deck could not be generated or parsed."""

    exit_code = 2


class SetupError(CircuitsimError):
    """ngspice is missing, too old or built without KLU."""

    exit_code = 1


class SimError(CircuitsimError):
    """An ngspice run failed. Carries the deck, the ngspice log and the kept run directory."""

    exit_code = 1

    def __init__(self, message: str, *, deck: str = "", log: str = "", run_dir: Path | None = None):
        super().__init__(message)
        self.deck = deck
        self.log = log
        self.run_dir = run_dir


class OutputError(CircuitsimError):
    """An output path that cannot or must not be written (missing directory, not a regular
    file, no permission): user input, refused before any work where possible."""

    exit_code = 2


class CacheError(CircuitsimError):
    """A cache entry is missing, corrupt or could not be written."""
