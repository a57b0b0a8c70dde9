"""Test configuration: a hermetic environment and the QUICK characterizations, shared.

- Every test runs with ``CIRCUITSIM_CACHE`` (surrogates, sweep records, generated datasets),
  ``CIRCUITSIM_RUN_DIR`` (SPICE run directories, kept when a run fails),
  ``CIRCUITSIM_TECH_DIR`` (prepared technology libraries) and ``XDG_CACHE_HOME`` pointed into
  the session's temporary directory: the suite never reads or writes a user's cache and
  leaves nothing in the system temp dir. Subprocesses inherit it. Under pytest-xdist
  (``make test`` runs ``-n auto``) the workers share that directory, so each QUICK
  characterization runs once per session, not once per worker.
- :func:`quick` gives each kind's QUICK spec, dataset and fitted surrogate, built once per
  session from one sweep store (the one :func:`circuitsim.get_surrogate` uses by default, so
  training tests reuse them too), under the cache entries' locks: a second worker waits and
  then finds every point in the store.
  Tests using it are marked ``spice`` and ``slow`` here.
- Hypothesis: deterministic runs in CI (``CI=true``), random ones locally; no example
  database on disk.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("local", database=None)
settings.register_profile("ci", database=None, derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes")
                      else "local")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test using :func:`quick` needs a QUICK characterization: ``spice`` and ``slow``. A
    test using a module's ``sur`` fixture (the QUICK surrogates through ``loop``) needs
    ngspice on a cold cache: ``spice``."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "quick" in names:
            item.add_marker(pytest.mark.spice)
            item.add_marker(pytest.mark.slow)
        if "sur" in names:
            item.add_marker(pytest.mark.spice)


@pytest.fixture(scope="session", autouse=True)
def hermetic(tmp_path_factory) -> Iterator[Path]:
    """The session's own cache and run directories (see the module docstring)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one directory for all workers of the session
        root = tmp_path_factory.getbasetemp().parent / "circuitsim"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("circuitsim")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIRCUITSIM_CACHE", str(root / "cache"))
        mp.setenv("CIRCUITSIM_RUN_DIR", str(root / "runs"))
        mp.setenv("XDG_CACHE_HOME", str(root / "xdg"))
        mp.setenv("CIRCUITSIM_TECH_DIR", str(root / "technology"))  # prepared SKY130
        mp.delenv("CIRCUITSIM_SCHEDULER", raising=False)
        yield root


class Quick:
    """Each kind's QUICK characterization, simulated at most once per session."""

    def __init__(self) -> None:
        from circuitsim.surrogate.cache import SurrogateCache
        from circuitsim.surrogate.service import Runner

        self.cache = SurrogateCache()  # the session's $CIRCUITSIM_CACHE
        self.runner = Runner(progress=False)
        self.store = Path(self.runner.kwargs(self.cache)["store"])

    @functools.cache  # noqa: B019 - one Quick per session
    def spec(self, kind: str) -> Any:
        from circuitsim.surrogate.service import make_spec

        return make_spec(kind, quick=True)

    @functools.cache  # noqa: B019
    def dataset(self, kind: str) -> Any:
        from circuitsim.surrogate.kinds import get_kind
        from circuitsim.surrogate.service import characterize, entry_key

        # under the locks of the entry and its parts (the ADC's per-width entries), taken in
        # get_surrogate's order: a test building any of them elsewhere waits, then finds every
        # point in the store
        spec, k = self.spec(kind), get_kind(kind)
        specs = [spec, *(k.parts(spec) if k.parts is not None else [])]
        keys = dict.fromkeys(entry_key(kind, s)[0] for s in specs)  # each lock once
        with contextlib.ExitStack() as stack:
            for key in keys:
                stack.enter_context(self.cache.locked(kind, key))
            return characterize(kind, spec, self.runner, self.cache)

    @functools.cache  # noqa: B019
    def surrogate(self, kind: str) -> Any:
        """The fitted surrogate, from the session cache (fitted on the first call)."""
        from circuitsim.surrogate.service import get_surrogate

        return get_surrogate(kind, self.spec(kind), cache=self.cache, runner=self.runner,
                             dataset=self.dataset(kind))[0]


@pytest.fixture(scope="session")
def quick(hermetic) -> Quick:
    return Quick()
