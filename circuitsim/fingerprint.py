"""Fingerprints of the code behind a cached result: narrow, so an unrelated edit keeps caches.

A sweep record is keyed on what it simulates (its deck text and the ngspice version, hashed
by :func:`circuitsim.store.point_key`) and on :func:`record_code`: the modules that turn a
run into a record. Those are the steps at or below the phase helpers in the one-way data flow
(specs, netlist generators and their ideal values, the SPICE backends that parse the run,
energy integrals, activation functions, the phase helpers — :data:`RECORD_CODE`) plus the
point function's own module (the ADC characterization's ``convert`` lives in
``characterize/``). Nothing above that step can change a record, so nothing above it is hashed.

A surrogate is keyed (:func:`circuitsim.surrogate.cache.key_material`) on its dataset — the
characterization spec, the ngspice version and :func:`dataset_code` (the record code plus the
kind's characterization modules, ``Kind.char_code``) — and on :func:`fit_code`, the source of
the modules that fit that kind (``Kind.fit_code``). We hash the fit modules' source rather than
keep a hand-bumped version constant per fit module: a constant is one more thing to forget, and
a forgotten bump silently serves a surrogate fitted by other code; a source hash cannot be
forgotten, and the module lists are short and live next to the kinds they describe.

Source is hashed after parsing, with docstrings dropped (:func:`normalized`), so docstring,
comment and formatting edits keep every cache; any change to code in a listed module makes new
keys. The AST's printed form can differ between Python versions, so a Python upgrade starts
fresh caches (safe: the numerics may differ too).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The package's source directory (the default tree fingerprints are computed over).
ROOT = Path(__file__).resolve().parent

#: Modules (patterns relative to :data:`ROOT`; ``!`` excludes) that turn any SPICE run into a
#: record. The worker pool only schedules runs: its code never reaches a record's content.
RECORD_CODE = ("spec.py", "energy.py", "activations.py", "netlist/*.py", "spice/*.py",
               "!spice/pool.py", "phases/*.py")


def normalized(source: str) -> str:
    """The module's syntax tree without docstrings, as text (comments and layout vanish)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


@functools.lru_cache(maxsize=1024)
def _digest(source: str) -> str:
    return hashlib.sha256(normalized(source).encode()).hexdigest()


@functools.cache
def fingerprint(patterns: tuple[str, ...], root: Path = ROOT) -> str:
    """Hash of the normalized source of the modules under ``root`` matching ``patterns``
    (less those matching a pattern that starts with ``!``)."""
    skip = {p for pat in patterns if pat.startswith("!") for p in root.glob(pat[1:])}
    paths = sorted({p for pat in patterns if not pat.startswith("!")
                    for p in root.glob(pat)} - skip)
    if not paths:
        raise FileNotFoundError(f"no source matches {patterns} under {root}")
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(_digest(path.read_text()).encode())
    return digest.hexdigest()[:16]


def module_file(module: str) -> str:
    """``circuitsim.a.b`` → ``a/b.py`` (relative to :data:`ROOT`)."""
    head, _, rest = module.partition(".")
    if head != "circuitsim" or not rest:
        raise ValueError(f"{module!r} is not a circuitsim module")
    return rest.replace(".", "/") + ".py"


def record_code(fn: Callable[[Any], Any], root: Path = ROOT) -> str:
    """Fingerprint of the code that turns ``fn``'s SPICE run into a record (module docstring);
    a function outside circuitsim (a test's own) adds no module of its own."""
    own = (module_file(fn.__module__),) if fn.__module__.startswith("circuitsim.") else ()
    return fingerprint(RECORD_CODE + own, root)


def dataset_code(char_code: tuple[str, ...], root: Path = ROOT) -> str:
    """Fingerprint of the code that simulates and assembles a kind's dataset."""
    return fingerprint(RECORD_CODE + char_code, root)


def fit_code(fit_modules: tuple[str, ...], root: Path = ROOT) -> str:
    """Fingerprint of the code that fits a kind's surrogate."""
    return fingerprint(fit_modules, root)
