"""SkyWater's per-instance threshold mismatch of the SKY130 1.8 V FETs, as numbers.

The ``*_mm`` sections of the prepared library switch on SkyWater's mismatch: each FET's
``delvto`` (its threshold shift) gains ``sw_mm_vth0_<device> * mismatch_factor * AGAUSS(0,1,1)
/ sqrt(l w mult)``, for the nfet also multiplied by the same length/width factors as its
corner shift. That term is a pure threshold offset, the parameter circuitsim's Monte-Carlo
draws (``dvt_*``), so :func:`sigma_vth` reads the library's own ``delvto`` expression and
evaluates its standard deviation for a given W/L: the Monte-Carlo then draws offsets with the
foundry's sigma instead of an assumed Pelgrom coefficient.

Evaluated with ``AGAUSS`` = 1 and 0 (the expression is linear in it), ``MC_MM_SWITCH`` = 1,
``mult`` = 1, every other ``sw_*`` switch (corner and global Monte-Carlo shifts) = 0 and the
``sw_mm_*`` coefficients from ``models_global.spice``. Only numbers, names, ``+ - * /``,
``sqrt`` and ``AGAUSS`` are accepted: anything else in the expression is an error, not a guess.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from pathlib import Path

from circuitsim.errors import SetupError

_OPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv}


def _evaluate(text: str, names: dict[str, float], agauss: float) -> float:
    """The ngspice expression ``text`` (without braces) with ``names`` (lower case)."""
    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Name):
            name = node.id.lower()
            if name in names:
                return names[name]
            if name.startswith("sw_") and not name.startswith("sw_mm_"):
                return 0.0  # corner and global Monte-Carlo switches: not mismatch
            raise SetupError(f"SKY130 mismatch: unknown parameter {node.id!r} in {text!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            func = node.func.id.lower()
            if func == "agauss":
                return agauss
            if func == "sqrt" and len(node.args) == 1:
                return math.sqrt(ev(node.args[0]))
        raise SetupError(f"SKY130 mismatch: cannot evaluate {ast.dump(node)[:60]} in {text!r}")
    return ev(ast.parse(text, mode="eval").body)


def _subckt_params(library_dir: Path, device: str) -> dict[str, str]:
    """``name -> expression`` of the ``swx_vth`` parameter and the ``delvto`` instance
    parameter of ``device``'s subcircuit (continuation lines joined)."""
    text = (library_dir / "fets_01v8.spice").read_text()
    match = re.search(rf"^\.subckt\s+{device}\b(.*?)^\.ends", text, re.M | re.S | re.I)
    if match is None:
        raise SetupError(f"SKY130 mismatch: no subcircuit {device} in the prepared library")
    body = re.sub(r"\n\+", " ", "\n".join(line for line in match.group(1).splitlines()
                                          if not line.lstrip().startswith("*")))
    found = dict(re.findall(r"\b(swx_vth|delvto)\s*=\s*\{([^}]*)\}", body, re.I))
    if "delvto" not in found:
        raise SetupError(f"SKY130 mismatch: no delvto expression in {device}")
    return {k.lower(): v for k, v in found.items()}


def _mm_coefficients(library_dir: Path) -> dict[str, float]:
    text = (library_dir / "models_global.spice").read_text()
    return {name.lower(): float(value) for name, value in
            re.findall(r"^\+\s*(sw_mm_\w+)\s*=\s*([-+0-9.eE]+)", text, re.M)}


def sigma_vth(library: Path, device: str, w: float, l: float) -> float:  # noqa: E741
    """Standard deviation (V) of the threshold offset SkyWater's mismatch model gives one
    ``device`` of width ``w`` and length ``l`` (m), from the prepared ``library``."""
    directory = library.parent
    exprs = _subckt_params(directory, device)
    names = {**_mm_coefficients(directory), "w": w * 1e6, "l": l * 1e6, "mult": 1.0,
             "mismatch_factor": 1.0, "mc_mm_switch": 1.0}

    def delvto(z: float) -> float:
        scope = dict(names)
        if "swx_vth" in exprs:
            scope["swx_vth"] = _evaluate(exprs["swx_vth"], names, z)
        return _evaluate(exprs["delvto"], scope, z)

    return abs(delvto(1.0) - delvto(0.0))
