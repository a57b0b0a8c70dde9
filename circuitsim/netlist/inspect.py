"""Summarise a SPICE deck: element counts by type, nodes, models, subcircuits, analyses, options.

Reads text only (never runs it). Understands ``+`` continuation lines, comments, ``.subckt``
scopes and the node positions of the element types circuitsim emits plus the other common ones.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

#: Number of node tokens after the element name, by element letter (X and Q handled apart).
NODE_COUNT = {"R": 2, "C": 2, "L": 2, "V": 2, "I": 2, "B": 2, "D": 2, "F": 2, "H": 2,
              "E": 4, "G": 4, "M": 4, "J": 3, "K": 0, "S": 4, "W": 2, "T": 4, "O": 4, "U": 3}

KIND = {"R": "resistor", "C": "capacitor", "L": "inductor", "V": "voltage source",
        "I": "current source", "B": "behavioural source", "D": "diode", "E": "VCVS", "F": "CCCS",
        "G": "VCCS", "H": "CCVS", "M": "MOSFET", "Q": "BJT", "J": "JFET",
        "X": "subcircuit instance", "S": "switch", "W": "current switch", "K": "coupling",
        "T": "transmission line",
        "A": "XSPICE model"}


@dataclass
class DeckSummary:
    title: str
    elements: Counter = field(default_factory=Counter)
    nodes: set = field(default_factory=set)
    subckts: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    analyses: list = field(default_factory=list)
    options: list = field(default_factory=list)
    measures: int = 0
    saves: int = 0


def logical_lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.splitlines()[1:]:  # the first line of a deck is its title
        line = raw.split(";", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("*"):
            continue
        if line.lstrip().startswith("+") and out:
            out[-1] += " " + line.lstrip()[1:].strip()
        else:
            out.append(line.strip())
    return out


def summarize(text: str) -> DeckSummary:
    lines = text.splitlines()
    summary = DeckSummary(title=lines[0].lstrip("* ").strip() if lines else "")
    scope: str | None = None
    for line in logical_lines(text):
        tokens = re.sub(r"\{[^}]*\}|\([^)]*\)", lambda m: m.group(0).replace(" ", ""),
                        line).split()
        head = tokens[0].lower()
        if head.startswith("."):
            if head == ".subckt" and len(tokens) > 1:
                scope = tokens[1]
                summary.subckts[scope] = {"ports": len(tokens) - 2, "elements": 0}
            elif head == ".ends":
                scope = None
            elif head == ".model" and len(tokens) > 2:
                summary.models[tokens[1]] = tokens[2].split("(")[0].lower()
            elif head in (".tran", ".op", ".dc", ".ac", ".noise", ".tf", ".pz", ".sp"):
                summary.analyses.append(" ".join(tokens))
            elif head in (".option", ".options", ".opt"):
                summary.options.extend(tokens[1:])
            elif head in (".meas", ".measure"):
                summary.measures += 1
            elif head == ".save":
                summary.saves += len(tokens) - 1
            continue
        letter = head[0].upper()
        summary.elements[KIND.get(letter, f"{letter} element")] += 1
        if scope is not None:
            summary.subckts[scope]["elements"] += 1
            continue
        if letter == "X":
            nodes = [t for t in tokens[1:-1] if "=" not in t]
        elif letter == "Q":
            nodes = tokens[1:4]
        else:
            nodes = tokens[1:1 + NODE_COUNT.get(letter, 2)]
        summary.nodes.update(n.lower() for n in nodes if "=" not in n)
    return summary


def report(summary: DeckSummary) -> str:
    out = [f"title: {summary.title}"]
    total = sum(summary.elements.values())
    out.append(f"elements: {total}")
    out += [f"  {kind}: {n}" for kind, n in sorted(summary.elements.items())]
    out.append(f"top-level nodes: {len(summary.nodes - {'0', 'gnd'})} (+ ground)")
    for name, info in summary.subckts.items():
        out.append(f"subcircuit {name}: {info['ports']} ports, {info['elements']} elements")
    out.append("models: " + (", ".join(f"{m} ({t})" for m, t in summary.models.items())
                             or "none"))
    out.append("analyses: " + ("; ".join(summary.analyses) or "none"))
    out.append("options: " + (" ".join(summary.options) or "none"))
    out.append(f"measurements: {summary.measures}, saved vectors: {summary.saves}")
    return "\n".join(out)
