"""Kept run directories: a failed run keeps its deck and log, only the newest few are kept,
and nothing circuitsim did not mark is ever removed."""

from __future__ import annotations

import os

import pytest

from circuitsim import rundirs
from circuitsim.errors import SimError
from circuitsim.spice.options import SimOptions
from circuitsim.spice.runner import simulate


def test_only_the_newest_marked_failures_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv(rundirs.RUN_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(rundirs.KEEP_ENV, "3")
    in_progress = rundirs.new_run_dir()  # no mark: never pruned
    mine = tmp_path / "circuitsim-run-mine"  # a user's directory with the prefix, no mark
    mine.mkdir()
    failed = []
    for i in range(6):
        d = rundirs.new_run_dir()
        err = rundirs.failed_run(d, f"failure {i}")
        os.utime(d / rundirs.MARK, ns=(i * 10**9, i * 10**9))  # distinct, ordered marks
        failed.append(d)
        assert isinstance(err, SimError) and err.run_dir == d and str(d) in str(err)
    rundirs.failed_run(failed[-1], "again")
    kept = sorted(p for p in failed if p.exists())
    assert kept == sorted(failed[-3:])
    assert in_progress.exists() and mine.exists()


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["shared", "batch"])
def test_a_failed_ngspice_run_is_marked_and_named(backend):
    """(In the session's run directory: pool workers keep the environment they started with.)"""
    with pytest.raises(SimError, match="newest 20 failed runs are kept") as info:
        simulate("* t\nR1 a 0 1k\nV1 a 0 1\nX1 a b nosub\n.tran 1n 10n\n.end\n",
                 SimOptions(backend=backend))
    run_dir = info.value.run_dir
    assert run_dir.parent == rundirs.new_run_dir().parent and (run_dir / rundirs.MARK).exists()
    assert (run_dir / "deck.cir").exists() and (run_dir / "ngspice.log").exists()
