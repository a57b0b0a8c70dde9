"""The surrogate cache: round trip, provenance, corruption detection, two writers, keys."""

from __future__ import annotations

import json
import multiprocessing as mp
import time

import numpy as np
import pytest

from circuitsim import fidelity
from circuitsim.errors import CacheError, SpecError
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.surrogate.cache import SurrogateCache, cache_key, key_material

KEY = "ab" * 32


def _arrays() -> dict[str, np.ndarray]:
    return {"coef": np.arange(6.0).reshape(2, 3), "name": np.asarray("first-order")}


def test_round_trip_keeps_arrays_and_provenance(tmp_path):
    cache = SurrogateCache(tmp_path)
    with cache.locked("mac", KEY):
        cache.write("mac", KEY, _arrays(), {"fit": {"model": "physics"}})
    entry = cache.read("mac", KEY)
    assert np.array_equal(entry.arrays["coef"], _arrays()["coef"])
    assert str(entry.arrays["name"]) == "first-order"
    assert entry.meta["key"] == KEY and entry.meta["fit"] == {"model": "physics"}
    assert entry.meta["npz_bytes"] == entry.npz.stat().st_size
    assert cache.read("mac", "cd" * 32) is None
    listed = cache.entries()
    assert [m["key"] for m in listed] == [KEY]


def test_truncated_or_modified_npz_is_detected(tmp_path):
    cache = SurrogateCache(tmp_path)
    entry = cache.write("update", KEY, _arrays(), {})
    blob = entry.npz.read_bytes()
    entry.npz.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CacheError, match="does not match its recorded hash"):
        cache.read("update", KEY)
    entry.npz.unlink()
    with pytest.raises(CacheError, match="unreadable"):
        cache.read("update", KEY)


def test_sidecar_for_another_key_is_refused(tmp_path):
    cache = SurrogateCache(tmp_path)
    entry = cache.write("adc", KEY, _arrays(), {})
    meta = json.loads(entry.sidecar.read_text())
    meta["key"] = "ef" * 32
    entry.sidecar.write_text(json.dumps(meta))
    with pytest.raises(CacheError, match="sidecar is for key"):
        cache.read("adc", KEY)


def test_pickled_npz_is_never_loaded(tmp_path):
    cache = SurrogateCache(tmp_path)
    entry = cache.write("mac", KEY, {"obj": np.array([{"a": 1}], dtype=object)}, {})
    with pytest.raises(CacheError, match="not a readable .npz"):
        cache.read("mac", KEY)
    assert entry.sidecar.exists()


def test_update_meta_and_clear(tmp_path):
    cache = SurrogateCache(tmp_path)
    entry = cache.write("mac", KEY, _arrays(), {"fit": {}})
    checks = [fidelity.Check("rms", 0.5, "% FS", 1.0)]
    entry = cache.update_meta(entry, validation=fidelity.to_json(checks))
    again = cache.read("mac", KEY)
    assert fidelity.from_json(again.meta["validation"]) == checks
    assert np.array_equal(again.arrays["coef"], _arrays()["coef"])
    cache.write("update", KEY, _arrays(), {})
    assert cache.clear("mac") == [f"mac-{KEY[:24]}"]
    assert cache.read("mac", KEY) is None and cache.read("update", KEY) is not None
    assert len(cache.clear()) == 1 and not list(tmp_path.glob("*.json"))


def _build_once(directory: str, tag: int, queue: mp.Queue) -> None:
    """What service.get_surrogate does: check, lock, check again, build slowly, write."""
    cache = SurrogateCache(directory)
    with cache.locked("mac", KEY):
        if cache.read("mac", KEY) is None:
            time.sleep(0.5)  # a slow fit: the other process must wait, not build too
            cache.write("mac", KEY, {"tag": np.asarray(tag)}, {"tag": tag})
            queue.put(("built", tag))
        else:
            queue.put(("reused", tag))


def test_two_processes_build_one_entry(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_once, args=(str(tmp_path), t, queue)) for t in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    outcomes = sorted(queue.get(timeout=5) for _ in procs)
    assert [o[0] for o in outcomes] == ["built", "reused"]
    entry = SurrogateCache(tmp_path).read("mac", KEY)
    built_by = next(t for what, t in outcomes if what == "built")
    assert int(entry.arrays["tag"]) == built_by == entry.meta["tag"]


def test_key_depends_on_spec_and_ngspice_version():
    a = cache_key(key_material("mac", CrossbarSpec(rows=4), "46"))
    assert a == cache_key(key_material("mac", CrossbarSpec(rows=4), "46"))
    assert a != cache_key(key_material("mac", CrossbarSpec(rows=5), "46"))
    assert a != cache_key(key_material("mac", CrossbarSpec(rows=4), "45"))
    assert a != cache_key(key_material("update", CrossbarSpec(rows=4), "46"))


def test_sidecar_that_is_not_an_object_is_corrupt(tmp_path):
    cache = SurrogateCache(tmp_path)
    entry = cache.write("mac", KEY, _arrays(), {})
    entry.sidecar.write_text("[]")
    with pytest.raises(CacheError, match="not a JSON object"):
        cache.read("mac", KEY)
    assert "error" in cache.entries()[0]


def test_validation_is_not_written_onto_a_refitted_entry(tmp_path):
    cache = SurrogateCache(tmp_path)
    old = cache.write("mac", KEY, _arrays(), {})
    cache.write("mac", KEY, {"coef": np.zeros(3)}, {})  # refitted meanwhile
    with pytest.raises(CacheError, match="refitted"):
        cache.update_meta(old, validation=[])
    assert "validation" not in cache.read("mac", KEY).meta


def test_clear_removes_entries_with_their_locks_and_nothing_of_the_users(tmp_path):
    cache = SurrogateCache(tmp_path)
    cache.write("mac", KEY, _arrays(), {})
    with cache.locked("update", KEY):
        cache.write("update", KEY, _arrays(), {})
    mine = {"my-notes.json": "{}", "keep-this.npz": "x", "mac-notes.json": "{}",
            f"adc-{'0' * 24}.json": '{"kind": "something else"}'}
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    assert len(cache.clear()) == 2
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*mine, "CIRCUITSIM-CACHE"])  # no .lock left behind either


def test_clear_refuses_a_directory_circuitsim_did_not_make(tmp_path):
    (tmp_path / f"mac-{KEY[:24]}.json").write_text("{}")
    with pytest.raises(SpecError, match="is not a circuitsim cache"):
        SurrogateCache(tmp_path).clear()
    assert len(list(tmp_path.iterdir())) == 1


def test_unusable_cache_dir_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("")
    cache = SurrogateCache(tmp_path / "file" / "sub")
    with pytest.raises(SpecError, match="--cache"):
        cache.write("mac", KEY, _arrays(), {})


def test_clear_sweeps_removes_only_records_of_a_circuitsim_store(tmp_path, capsys):
    from circuitsim.cli import main
    from circuitsim.store import ResultStore

    SurrogateCache(tmp_path).write("mac", KEY, _arrays(), {})
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    (sweeps / "mine.txt").write_text("x")
    assert main(["surrogate", "clear", "--cache", str(tmp_path), "--sweeps"]) == 2
    assert "is not a circuitsim result store" in capsys.readouterr().err
    assert (tmp_path / f"mac-{KEY[:24]}.json").exists()  # refused before anything went
    ResultStore(sweeps)
    for suffix in (".npz", ".json", ".error.json"):
        (sweeps / ("ab" * 32 + suffix)).write_text("{}")
    assert main(["surrogate", "clear", "--cache", str(tmp_path), "--sweeps"]) == 0
    out = capsys.readouterr().out
    assert f"removed mac-{KEY[:24]}" in out and "removed 1 sweep record(s)" in out
    assert sorted(p.name for p in sweeps.iterdir()) == ["CIRCUITSIM-STORE", "mine.txt"]
