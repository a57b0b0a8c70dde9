"""Test configuration: deterministic hypothesis runs in CI (CI=true), random ones locally."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def technology_dir(tmp_path_factory):
    """Prepared technology libraries (SKY130) go to a session directory, never the user's."""
    patch = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("technology")
    patch.setenv("CIRCUITSIM_TECH_DIR", str(path))
    yield path
    patch.undo()
