"""Element constructors: every deck line is built here from validated names and formatted numbers.

Each function returns one logical SPICE line (long lines are wrapped with ``+`` continuation
lines by :func:`wrap`). Names are checked by :func:`circuitsim.netlist.fmt.name`, numbers are
formatted by :func:`circuitsim.netlist.fmt.num`; nothing else reaches a deck.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from circuitsim.errors import NetlistError
from circuitsim.netlist.fmt import name, node, num, text_line

WIDTH = 100
#: The ground node.
GND = "0"


def wrap(tokens: Sequence[str], width: int = WIDTH) -> str:
    """Join tokens into one logical line, continuing with ``+ `` past ``width`` characters."""
    lines: list[str] = []
    current = ""
    for tok in tokens:
        candidate = tok if not current else f"{current} {tok}"
        if current and len(candidate) > width:
            lines.append(current)
            current = f"+ {tok}"
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)


def element_tokens(kind: str, el: str, nodes: Iterable[str]) -> list[str]:
    name(el, "element name")
    if el[0].upper() != kind:
        raise NetlistError(f"element {el!r} must start with {kind!r}")
    return [el, *(node(n) for n in nodes)]


def resistor(el: str, a: str, b: str, ohms: float) -> str:
    return wrap([*element_tokens("R", el, (a, b)), num(ohms)])


def capacitor(el: str, a: str, b: str, farads: float, ic: float | None = None) -> str:
    extra = [] if ic is None else [f"ic={num(ic)}"]
    return wrap([*element_tokens("C", el, (a, b)), num(farads), *extra])


def vdc(el: str, a: str, b: str, volts: float) -> str:
    return wrap([*element_tokens("V", el, (a, b)), "dc", num(volts)])


def vpwl(el: str, a: str, b: str, points: Sequence[tuple[float, float]]) -> str:
    """Piecewise-linear voltage source; ``points`` are (time s, value V) with rising times."""
    body = " ".join(f"{num(t)} {num(v)}" for t, v in points).split(" ")
    return wrap([*element_tokens("V", el, (a, b)), "dc", num(points[0][1]), "pwl(", *body, ")"])


def vcvs(el: str, out_p: str, out_n: str, in_p: str, in_n: str, gain: float) -> str:
    return wrap([*element_tokens("E", el, (out_p, out_n, in_p, in_n)), num(gain)])


def cccs(el: str, a: str, b: str, vsense: str, gain: float) -> str:
    return wrap([*element_tokens("F", el, (a, b)), name(vsense, "source name"), num(gain)])


def ccvs(el: str, a: str, b: str, vsense: str, ohms: float) -> str:
    return wrap([*element_tokens("H", el, (a, b)), name(vsense, "source name"), num(ohms)])


def bcurrent(el: str, a: str, b: str, expression: str) -> str:
    """Behavioural current source. ``expression`` must come from :func:`sinh_current`-style
    builders in this package (formatted numbers and validated node names only)."""
    return wrap([*element_tokens("B", el, (a, b)), f"i={{{expression}}}"])


def mosfet(el: str, d: str, g: str, s: str, b: str, model: str, w: float, l: float,  # noqa: E741
           **instance: float) -> str:
    extra = [f"{name(k, 'instance parameter')}={num(v)}" for k, v in instance.items() if v]
    return wrap([*element_tokens("M", el, (d, g, s, b)), name(model, "model name"),
                 f"w={num(w)}", f"l={num(l)}", *extra])


def instance(el: str, nodes: Sequence[str], subckt: str) -> str:
    return wrap([*element_tokens("X", el, nodes), name(subckt, "subcircuit name")])


def subckt(sub: str, ports: Sequence[str], body: Iterable[str], doc: str = "") -> list[str]:
    head = wrap([".subckt", name(sub, "subcircuit name"), *(name(p, "port") for p in ports)])
    lines = [comment(doc)] if doc else []
    return [*lines, head, *body, f".ends {sub}"]


def comment(text: str) -> str:
    """A comment line (printable ASCII only, see :func:`circuitsim.netlist.fmt.text_line`)."""
    return f"* {text_line(text)}"


def idc(el: str, a: str, b: str, amps: float) -> str:
    """DC current source: ``amps`` flow from node ``a`` through the source into node ``b``."""
    return wrap([*element_tokens("I", el, (a, b)), "dc", num(amps)])


def bvoltage(el: str, a: str, b: str, expression: str) -> str:
    """Behavioural voltage source (expression built by this package, as for :func:`bcurrent`)."""
    return wrap([*element_tokens("B", el, (a, b)), f"v={{{expression}}}"])


def switch(el: str, a: str, b: str, ctrl_p: str, ctrl_n: str, model: str) -> str:
    """Voltage-controlled switch (ngspice ``sw`` model), closed while v(ctrl_p, ctrl_n) > vt."""
    return wrap([*element_tokens("S", el, (a, b, ctrl_p, ctrl_n)), name(model, "model name")])


def switch_model(model: str, vt: float, ron: float, roff: float) -> str:
    return wrap([".model", name(model, "model name"), "sw", f"vt={num(vt)}", "vh=0",
                 f"ron={num(ron)}", f"roff={num(roff)}"])


# ---------------------------------------------------------------- analysis and output lines

def tran(step: float, stop: float, max_step: float | None = None) -> str:
    extra = [] if max_step is None else ["0", num(max_step)]
    return wrap([".tran", num(step), num(stop), *extra])


def save(vectors: Iterable[str]) -> str:
    """``.save`` of node voltages (``v(node)``) or source currents (``i(Vname)``)."""
    out = []
    for v in vectors:
        kind, _, rest = v.partition("(")
        if kind.lower() not in ("v", "i") or not rest.endswith(")"):
            raise NetlistError(f"cannot save {v!r}: use v(node) or i(Vsource)")
        out.append(f"{kind}({node(rest[:-1])})")
    return wrap([".save", *out])


def meas_find(label: str, vector: str, at: float) -> str:
    """``.meas tran label FIND vector AT=t`` (``vector`` as accepted by :func:`save`)."""
    target = save([vector]).split(" ", 1)[1]
    return wrap([".meas", "tran", name(label, "measure name"), "FIND", target, f"AT={num(at)}"])


def meas_integ(label: str, vector: str, start: float, stop: float) -> str:
    """``.meas tran label INTEG vector FROM=start TO=stop``."""
    target = save([vector]).split(" ", 1)[1]
    return wrap([".meas", "tran", name(label, "measure name"), "INTEG", target,
                 f"FROM={num(start)}", f"TO={num(stop)}"])


def meas_diff(label: str, a: str, b: str) -> str:
    """``.meas tran label param='a-b'`` of two earlier measurements."""
    return wrap([".meas", "tran", name(label, "measure name"),
                 f"param='{name(a, 'measure name')}-{name(b, 'measure name')}'"])


def meas_fall(label: str, vector: str, level: float, after: float) -> str:
    """``.meas tran label WHEN vector=level TD=after FALL=1``: first falling crossing."""
    target = save([vector]).split(" ", 1)[1]
    return wrap([".meas", "tran", name(label, "measure name"), "WHEN", f"{target}={num(level)}",
                 f"TD={num(after)}", "FALL=1"])
