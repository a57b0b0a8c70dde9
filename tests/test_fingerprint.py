"""Cache keys survive unrelated edits and change with the code that made the entry.

The edits are made to a copy of the source tree (``key_material(..., root=copy)``), never to
the real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from circuitsim import fingerprint, store
from circuitsim.fingerprint import ROOT, normalized, record_code
from circuitsim.phases.mac import mac_point
from circuitsim.phases.update import UpdatePoint, update_point
from circuitsim.store import point_key
from circuitsim.surrogate.cache import cache_key, key_material
from circuitsim.surrogate.kinds import KINDS
from circuitsim.surrogate.service import make_spec

SPECS = {kind: make_spec(kind, quick=True) for kind in KINDS}
CODE_EDIT = "\n\ndef _added_by_a_test():\n    return 1\n"


def tree(tmp_path: Path, name: str, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of the package source with ``{file: (old, new)}`` replaced (each must match)."""
    root = tmp_path / name
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for rel, (old, new) in edits.items():
        path = root / rel
        text = path.read_text()
        assert old in text, f"{rel}: edit anchor {old!r} not found"
        path.write_text(text.replace(old, new, 1) if old else text + new)
    return root


def keys(root: Path) -> dict[str, str]:
    """Every surrogate kind's cache key and the records' code fingerprints, over ``root``."""
    out = {kind: cache_key(key_material(kind, spec, "46", root)) for kind, spec in SPECS.items()}
    out["record mac"] = record_code(mac_point, root)
    out["record update"] = record_code(update_point, root)
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, str]:
    return keys(tree(tmp_path_factory.mktemp("src"), "base", {}))


def test_the_copy_fingerprints_like_the_package(base):
    assert base == keys(ROOT)


def test_normalized_ignores_docstrings_comments_and_layout_not_code():
    src = 'def f(x):\n    """Doc."""\n    return x + 1  # one\n'
    assert normalized(src) == normalized("def f(x):\n\n    return (x +\n            1)\n")
    assert normalized(src) != normalized('def f(x):\n    """Doc."""\n    return x + 2\n')
    only_doc = 'def f():\n    """Only a docstring."""\n'
    assert normalized(only_doc) == normalized("def f():\n    pass\n")


@pytest.mark.parametrize("edits", [
    {"energy.py": ('"""', '"""A docstring edit. ')},                   # a record module's doc
    {"phases/mac.py": ("import json\n", "import json  # a comment\n")},  # comment
    {"train/loop.py": ("", CODE_EDIT)},                                  # training code
    {"reproduce/common.py": ("", CODE_EDIT)},                            # reproductions
    {"demo.py": ("", CODE_EDIT), "plots.py": ("", CODE_EDIT)},
    {"surrogate/mac_plots.py": ("", CODE_EDIT)},
    {"spice/pool.py": ("", CODE_EDIT), "sweep.py": ("", CODE_EDIT)},  # scheduling, not records
], ids=["energy docstring", "comment", "train", "reproduce", "demo+plots", "mac plots",
        "pool+sweep"])
def test_unrelated_edits_keep_every_key(tmp_path, base, edits):
    assert keys(tree(tmp_path, "edited", edits)) == base


@pytest.mark.parametrize(("edits", "changed"), [
    ({"surrogate/mac.py": ("", CODE_EDIT)}, {"mac"}),
    ({"surrogate/update_fit.py": ("", CODE_EDIT)}, {"update"}),
    ({"surrogate/activation.py": ("", CODE_EDIT)}, {"adc"}),
    ({"characterize/update.py": ("", CODE_EDIT)}, {"update"}),
    ({"characterize/adc_calibration.py": ("", CODE_EDIT)}, {"adc"}),
    ({"phases/mac.py": ("", CODE_EDIT)},
     {"mac", "update", "adc", "record mac", "record update"}),
    ({"energy.py": ("", CODE_EDIT)}, {"mac", "update", "adc", "record mac", "record update"}),
    ({"spice/rawfile.py": ("", CODE_EDIT)},
     {"mac", "update", "adc", "record mac", "record update"}),
], ids=["mac fit", "update fit", "adc fit", "update char", "adc char", "phase", "energy",
        "spice parser"])
def test_edits_to_the_code_that_made_an_entry_change_exactly_its_keys(tmp_path, base, edits,
                                                                     changed):
    now = keys(tree(tmp_path, "edited", edits))
    assert {k for k in base if now[k] != base[k]} == changed


def test_point_key_hashes_the_record_code(monkeypatch):
    point = UpdatePoint(pulses="UD", t_hold=1e-6)
    before = point_key(update_point, point, "46")
    monkeypatch.setattr(store, "record_code", lambda fn: "another code")
    assert point_key(update_point, point, "46") != before


def test_every_characterization_and_fit_module_is_listed_with_its_kind():
    """A new module next to a kind's characterization or fit must enter its key."""
    surrogate_module = {"mac": "mac", "update": "update", "adc": "activation"}
    assert set(surrogate_module) == set(KINDS)
    for k in KINDS.values():
        char = {p.relative_to(ROOT).as_posix()
                for p in ROOT.glob(f"characterize/{k.name}*.py")
                if not p.name.endswith("_plots.py")}
        fit = {p.relative_to(ROOT).as_posix()
               for p in ROOT.glob(f"surrogate/{surrogate_module[k.name]}*.py")
               if not p.name.endswith(("_plots.py", "_validate.py"))}
        assert set(k.char_code) == char, k.name
        assert set(k.fit_code) == fit, k.name
    assert all(list(ROOT.glob(pat.removeprefix("!"))) for pat in fingerprint.RECORD_CODE)
