"""Output files a user owns stay theirs: atomic replace, symlinks followed, modes kept,
anything that is not a regular file refused and left untouched, bad paths refused up front."""

from __future__ import annotations

import json
import os
import stat

import pytest

from circuitsim.cli import main
from circuitsim.errors import OutputError
from circuitsim.io import check_output, write_atomic


@pytest.mark.parametrize("umask, mode", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_a_new_file_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "deck.cir", "* deck\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "deck.cir").stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode_and_inode_changes_atomically(tmp_path):
    target = tmp_path / "deck.cir"
    target.write_text("old\n")
    target.chmod(0o640)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deck.cir"]  # no temp file left


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "real.cir"
    real.write_text("old\n")
    link = tmp_path / "link.cir"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


@pytest.mark.parametrize("make", ["fifo", "dir", "dangling-dir"])
def test_what_is_not_a_regular_file_is_refused_and_untouched(tmp_path, make):
    target = tmp_path / "out.cir"
    if make == "fifo":
        os.mkfifo(target)
    elif make == "dir":
        target.mkdir()
    else:
        target = tmp_path / "nowhere" / "out.cir"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(OutputError, match="out.cir|nowhere"):
        write_atomic(target, "x\n")
    with pytest.raises(OutputError):
        check_output(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if make == "fifo":
        assert stat.S_ISFIFO(target.stat().st_mode)


def test_a_device_node_is_refused(tmp_path):
    with pytest.raises(OutputError, match="not a regular file"):
        write_atomic("/dev/null", "x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("argv, needle", [
    (["netlist", "crossbar", "-o", "/dev/null"], "not a regular file"),
    (["netlist", "crossbar", "-o", "/proc/x.cir"], "cannot write in '/proc'"),
    (["simulate", "{deck}", "--out", "/proc/x.npz"], "--out: cannot write in '/proc'"),
    (["simulate", "{deck}", "--out", "{tmp}/r.npz", "--plot", "/proc/p.png"],
     "--plot: cannot write in '/proc'"),
])
def test_bad_output_paths_fail_before_any_work(tmp_path, capsys, argv, needle):
    deck = tmp_path / "d.cir"
    deck.write_text("* t\nR1 a 0 1k\nV1 a 0 1\n.tran 1n 10n\n.end\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main([a.format(deck=deck, tmp=tmp_path) for a in argv])
    _, err = capsys.readouterr()
    assert code == 2 and needle in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .npz written first


def test_json_text_is_strict_json():
    from circuitsim.io import json_text

    def refuse(name):
        raise ValueError(name)

    text = json_text({"lo": float("-inf"), "v": [float("nan"), 1.5, (2, float("inf"))]})
    assert json.loads(text, parse_constant=refuse) == {"lo": None, "v": [None, 1.5, [2, None]]}
