"""One-way architecture: every import statement in the package (inside functions too) goes to
the importer's layer or a lower one (:mod:`circuitsim.layers`), and no import cycle exists.

Imports are read from the source (AST), not by importing, so a lazy import inside a function
counts like any other. ``from pkg import name`` is an import of ``pkg.name`` when that is a
module, else of ``pkg``; the package's lazy API table (``_API`` in ``circuitsim/__init__.py``)
counts as imports of the modules it names.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import circuitsim
from circuitsim.layers import LAYERS, layer_of

ROOT = Path(circuitsim.__file__).resolve().parent

#: Import cycles other engineers are removing (issue 12): the lead the two in ``spice/``, the
#: training engineer ``train.loop`` <-> ``train.lstm``. Delete an entry when its cycle is
#: gone: the test fails on an entry that no longer is a cycle, so the list cannot go stale.
KNOWN_CYCLES_BEING_FIXED_ELSEWHERE: list[frozenset[str]] = []

#: Modules that import a module named at run time, and why (each one is reviewed by hand:
#: such an import escapes the layer check).
DYNAMIC_IMPORTS = {
    "circuitsim": "the lazy public API: _API's modules (checked as imports below)",
    "circuitsim.store": "a stored record's result class, by its dotted name (circuitsim.* only)",
    "circuitsim.train_cli": "circuitsim.reproduce.<name> for 'circuitsim reproduce NAME'",
    "circuitsim.spice.pool": "a worker pre-imports the circuitsim modules its parent has loaded",
}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _target(name: str) -> str | None:
    """The package module ``name`` refers to (itself or its nearest enclosing module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _api_table(tree: ast.Module) -> dict[str, str]:
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_API":
            return ast.literal_eval(node.value)
    raise AssertionError("circuitsim/__init__.py: no _API table")


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported package module) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source
                     for a in node.names]
        for name in names:
            target = _target(name) if name.split(".")[0] == "circuitsim" else None
            if target and target != module:
                out.append((node.lineno, target))
    if module == "circuitsim":
        out += [(0, target) for target in _api_table(tree).values()]
    return out


EDGES = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


def test_every_module_has_exactly_one_layer():
    entries = [e for _, es in LAYERS for e in es]
    assert len(entries) == len(set(entries)), "an entry is listed twice in circuitsim.layers"
    missing = sorted(m for m in MODULES if layer_of(m) is None)
    assert not missing, f"modules with no layer in circuitsim/layers.py: {missing}"
    for name in entries:
        assert _target(name.removesuffix(".*")) == name.removesuffix(".*"), \
            f"circuitsim.layers lists {name!r}, which is not a module of the package"


def test_no_import_from_a_higher_layer():
    names = [name for name, _ in LAYERS]
    upward = []
    for module, imports in EDGES.items():
        own = layer_of(module)
        for line, target in imports:
            if layer_of(target) > own:
                upward.append(f"{MODULES[module].relative_to(ROOT.parent)}:{line}: {module} "
                              f"({names[own]}) imports {target} ({names[layer_of(target)]})")
    assert not upward, "imports against the flow:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    cycles = _cycles({m: {t for _, t in imports} for m, imports in EDGES.items()})
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES_BEING_FIXED_ELSEWHERE]
    assert not new, f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES_BEING_FIXED_ELSEWHERE if c not in cycles]
    assert not gone, f"no longer cycles, delete from KNOWN_CYCLES_BEING_FIXED_ELSEWHERE: {gone}"


def test_dynamic_imports_are_the_reviewed_ones():
    found = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
                found.add(module)
            if isinstance(node, ast.Name) and node.id == "__import__":
                found.add(module)
    assert found == set(DYNAMIC_IMPORTS)


@pytest.mark.parametrize("name", sorted(circuitsim._API))
def test_lazy_api_names_resolve(name):
    value = getattr(circuitsim, name)
    assert value is getattr(importlib.import_module(circuitsim._API[name]), name)
    assert name in circuitsim.__all__


def test_surrogate_kind_names_are_one_list():
    from circuitsim.surrogate.kind_names import KIND_NAMES
    from circuitsim.surrogate.kind_plots import PLOTS
    from circuitsim.surrogate.kinds import KINDS

    assert tuple(KINDS) == tuple(PLOTS) == KIND_NAMES
    assert all(k.name == name for name, k in KINDS.items())


def test_dataset_and_rule_names_are_one_list():
    import typing

    from circuitsim.train.config import HIDDEN, W_SCALE, TrainSpec
    from circuitsim.train_names import DATASETS, RULES

    hints = typing.get_type_hints(TrainSpec)
    assert typing.get_args(hints["dataset"]) == DATASETS
    assert typing.get_args(hints["rule"]) == RULES
    assert tuple(HIDDEN) == tuple(W_SCALE) == DATASETS


#: Names still defined twice while a rename is under way (none now).
DUPLICATE_TYPES_BEING_FIXED_ELSEWHERE: set[str] = set()


def test_no_two_public_types_with_one_name():
    """Classes and type aliases (CapWords names) are defined once in the package."""
    where: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for name in names:
                if name[0].isupper() and not name.isupper():
                    where.setdefault(name, []).append(module)
    twice = {name: mods for name, mods in where.items() if len(mods) > 1}
    assert set(twice) == DUPLICATE_TYPES_BEING_FIXED_ELSEWHERE, twice
