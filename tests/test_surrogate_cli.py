"""``circuitsim characterize`` and ``circuitsim surrogate ...`` end to end (QUICK MAC, real
ngspice): dataset and plots on disk, fit once then cache hits, a truncated entry rebuilt,
validation table and exit code, show/clear, one-line errors."""

from __future__ import annotations

import json

import pytest

from circuitsim.cli import main

pytestmark = pytest.mark.spice


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_characterize_fit_cache_validate_show_clear(tmp_path, capsys, quick):
    # its own surrogate cache; the session's sweep store (QUICK MAC points simulated once)
    cache, store = str(tmp_path / "cache"), str(quick.store)
    common = ["--quick", "--cache", cache, "--store", store, "--no-progress"]
    out_dir = tmp_path / "char"
    code, out, _ = run(capsys, "characterize", "mac", *common, "--out", str(out_dir))
    assert code == 0 and "| check |" in out
    assert (out_dir / "dataset.npz").is_file() and (out_dir / "summary.md").is_file()
    assert list(out_dir.glob("*.png"))
    spec = json.loads((out_dir / "spec.json").read_text())
    assert spec["tiles"] and spec["circuit"]["r_row"] > 0

    code, out, _ = run(capsys, "surrogate", "fit", "mac", *common)
    assert code == 0 and "fitted and cached" in out
    code, out, _ = run(capsys, "surrogate", "fit", "mac", *common)
    assert code == 0 and "already cached" in out
    # the dataset written by characterize names the same spec, so the same entry
    code, out, _ = run(capsys, "surrogate", "fit", "mac", "--dataset",
                       str(out_dir / "dataset.npz"), "--cache", cache, "--no-progress")
    assert code == 0 and "already cached" in out

    npz = next((tmp_path / "cache").glob("mac-*.npz"))
    npz.write_bytes(npz.read_bytes()[:100])  # truncated: detected, reported, rebuilt
    code, out, err = run(capsys, "surrogate", "fit", "mac", *common)
    assert code == 0 and "fitted and cached" in out
    assert "does not match its recorded hash" in err and "rebuilding" in err

    val_dir = tmp_path / "val"
    # one read mode (without --read-mode, validate mac runs every mode, each characterized)
    code, out, _ = run(capsys, "surrogate", "validate", "mac", *common, "--read-mode", "dc",
                       "--out", str(val_dir))
    assert code == 0 and "| pass |" in out and "FAIL" not in out
    assert (val_dir / "fidelity.md").read_text().count("| pass |") >= 2
    assert list(val_dir.glob("*.png"))

    code, out, _ = run(capsys, "surrogate", "show", "--cache", cache)
    assert code == 0 and "validated: all pass" in out
    code, out, _ = run(capsys, "surrogate", "show", "mac", "--quick", "--cache", cache)
    assert code == 0 and '"npz_sha256"' in out and "| pass |" in out
    code, out, _ = run(capsys, "surrogate", "clear", "--cache", cache)
    assert code == 0 and "removed 1 " in out
    code, _, err = run(capsys, "surrogate", "show", "mac", "--quick", "--cache", cache)
    assert code == 2 and "no cached mac surrogate" in err


@pytest.mark.parametrize("argv, needle", [
    (["characterize", "mac", "--set", "seed=-1"], "seed"),
    (["characterize", "update", "--set", "nosuchfield=1"], "nosuchfield"),
    (["surrogate", "fit", "mac", "--dataset", "/nonexistent.npz"], "--dataset"),
    (["surrogate", "fit", "adc", "--workers", "0"], "--workers=0"),
    (["characterize", "mac", "--workers", "0"], "--workers=0"),
    (["surrogate", "show", "--quick"], "need a KIND"),
    (["characterize", "mac", "--set", "circuit.encoding=pulse_width"], "circuit.encoding"),
    (["characterize", "mac", "--read-mode", "bogus"], "read_mode"),
    (["characterize", "mac", "--set", "circuit.sensing=integrator", "--set",
      "circuit.encoding=pulse_width", "--set", "circuit.t_read=1e-8"], "circuit.t_read"),
    (["characterize", "mac", "--set", "circuit.sensing=integrator", "--set",
      "circuit.c_int=1e-12"], "circuit.c_int"),
    (["characterize", "mac", "--read-mode", "amp_int", "--set", "circuit.c_row=1e-13",
      "--set", "circuit.c_col=1e-13"], "circuit.t_reset=1e-09: the wires of a 64x64 tile"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv, "--cache", str(tmp_path / "c"))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written (no cache, no runs/ directory)


def test_unreadable_dataset_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "ds.npz"
    for content in (b"", b"PK\x03\x04 truncated"):
        bad.write_bytes(content)
        code, _, err = run(capsys, "surrogate", "fit", "adc", "--dataset", str(bad),
                           "--cache", str(tmp_path / "c"))
        assert code == 2 and "--dataset" in err and len(err.strip().splitlines()) == 1
