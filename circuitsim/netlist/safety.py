"""What ngspice may see: an allowlist of deck line kinds, and model libraries vetted file by file.

ngspice's control language runs shell commands (``shell``), and ngspice recognises the cards
that open it loosely: it strips leading blanks, ignores case and matches dot-cards by *prefix*
(``.incl``, ``.includes``, ``.incx`` are all ``.include``; ``.controlx`` or ``.control;`` opens a
control block; ``.end`` does not stop it), a ``*#`` comment line is run as a command and a deck
titled ``*ng_script`` is a script. Measured with ngspice 46 (``tests/test_deck_safety.py``
keeps those probes). So a deck is judged by what is *allowed*, never by what is known to be bad:

- the title (first line) is free text, but must not look like a card or a command comment;
- every other line is blank, a comment (``*``; never ``*#`` or ``*ng_script``), a ``+``
  continuation, an element line whose letter is in :data:`ELEMENT_LETTERS`, or a dot-card whose
  first token is exactly one of :data:`CARDS` (so no allowed card is a prefix-variant of an
  include, library or control card);
- a ``.model`` card's type is one of :data:`MODEL_TYPES`: XSPICE code models that read files
  (``filesource``, ``table2d`` …) or start programs (``d_process``) are not among them.

A model library enters a deck only as the ``.lib``/``.include`` line that
:meth:`ModelLibrary.line` writes, after :func:`vet_library` has checked every file the library
pulls in (recursively) with the same allowlist; its messages name files and line numbers, never
a line's content, so vetting a file that is not a model library reveals nothing of it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from circuitsim.errors import NetlistError

#: Dot-cards a deck may hold (first token, lower case, matched exactly).
CARDS = frozenset({
    ".title", ".end", ".subckt", ".ends", ".model", ".param", ".func", ".csparam",
    ".option", ".options", ".opt", ".temp", ".global", ".ic", ".nodeset", ".save", ".probe",
    ".meas", ".measure", ".tran", ".op", ".dc", ".ac", ".noise", ".tf", ".pz", ".sens",
    ".four", ".disto", ".print", ".plot", ".width",
})

#: Card prefixes ngspice reads as something that pulls in text or runs commands, with what.
PREFIX_KINDS = (
    (".inc", "an include"), (".lib", "a library include"), (".control", "a control block"),
    (".endc", "the end of a control block"), (".endl", "the end of a library section"),
)

#: Cards a model library may hold besides :data:`CARDS`: sections and references to other
#: files (exact tokens; :func:`vet_library` follows every reference).
LIBRARY_CARDS = frozenset({".lib", ".endl", ".include", ".inc"})

#: Element letters (first character of an element line, any case). ``N`` (OSDI devices) needs
#: a control-language ``pre_osdi`` and is not accepted.
ELEMENT_LETTERS = frozenset("ABCDEFGHIJKLMOPQRSTUVWXYZ")

#: ``.model`` types: SPICE devices, and the XSPICE code models that neither read files nor
#: start programs.
MODEL_TYPES = frozenset({
    # SPICE devices (ngspice names and the common aliases)
    "r", "res", "c", "cap", "l", "ind", "sw", "csw", "vswitch", "iswitch", "d", "npn", "pnp",
    "njf", "pjf", "nmf", "pmf", "nhfet", "phfet", "nmos", "pmos", "vdmos", "ltra", "urc",
    "txl", "cpl",
    # XSPICE analog
    "gain", "summer", "mult", "divide", "limit", "climit", "pwl", "int", "d_dt", "s_xfer",
    "slew", "hyst", "aswitch", "zener", "sine", "triangle", "square", "oneshot", "core",
    "lcouple", "cmeter", "lmeter", "sidiode", "memristor", "potentiometer", "multi_input_pwl",
    # XSPICE digital and bridges
    "d_and", "d_nand", "d_or", "d_nor", "d_xor", "d_xnor", "d_buffer", "d_inverter",
    "d_tristate", "d_open_c", "d_open_e", "d_pullup", "d_pulldown", "d_dff", "d_jkff", "d_tff",
    "d_srff", "d_dlatch", "d_srlatch", "d_osc", "d_fdiv", "d_pwm", "adc_bridge", "dac_bridge",
    "d_to_real", "real_to_v",
})

#: Characters other than tab and newline that ngspice or Python may treat as a line break or
#: that have no place in a deck (they would hide lines from these checks).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")

#: A comment that ngspice runs: ``*#`` command lines and the ``*ng_script`` title.
_COMMAND_COMMENT = re.compile(r"^\*(#|\s*ng_script)", re.I)

#: How much of a refused line a message quotes.
_QUOTE = 60


@dataclass(frozen=True, slots=True)
class Refusal:
    """One line ngspice must not see: 1-based physical ``line`` number and the ``reason``."""

    line: int
    reason: str


def _refuse_dot(token: str, library: bool) -> str:
    """Why a dot-card is refused (a library's own text is never quoted)."""
    shown = "a card" if library else repr(token)
    for prefix, kind in PREFIX_KINDS:
        if token.startswith(prefix):
            return (f"{shown} is {kind} to ngspice (it matches cards by prefix); circuitsim "
                    "runs no control blocks and includes only model libraries it vetted "
                    "(simulate --lib PATH[@SECTION])")
    return f"{shown} is not an allowed card (allowed: {' '.join(sorted(CARDS))})"


def _model_type(logical: str) -> str | None:
    """The type of a ``.model NAME TYPE(...)`` card, lower case (None when missing)."""
    rest = logical.split(None, 2)
    if len(rest) < 3:
        return None
    return re.split(r"[\s(]", rest[2], maxsplit=1)[0].lower()


def _logical_lines(lines: Sequence[str], first: int) -> Iterator[tuple[int, str]]:
    """``(line number of the card, the card with its + continuations)`` from ``lines[first:]``,
    comments and blank lines skipped (the caller checks those physically)."""
    card_no, card = 0, ""
    for i in range(first, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("*"):
            continue
        if stripped.startswith("+"):
            card_no = card_no or i + 1
            card += " " + stripped[1:]
            continue
        if card.strip():
            yield card_no, card
        card_no, card = i + 1, stripped
    if card.strip():
        yield card_no, card


def refusals(text: str, *, library: bool = False) -> list[Refusal]:
    """Every line of ``text`` outside the allowlist, in order.

    A deck (``library=False``) starts with its title line; a model library has no title, may
    hold ``.lib NAME``/``.endl`` sections and ``.include``/``.lib FILE`` references (which
    :func:`vet_library` follows), and element lines only inside ``.subckt`` blocks.
    Reasons quote a deck's own line; for a library they never quote content."""
    out: list[Refusal] = []
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        bad = CONTROL_CHARS.search(line)
        if bad:
            out.append(Refusal(i + 1, f"holds control character {bad.group()!r}"))
    if out:
        return out
    first = 0
    if not library:
        title = lines[0].strip()
        if title.startswith(".") or _COMMAND_COMMENT.match(title):
            out.append(Refusal(1, "the title line must not be a card or a '*#'/'*ng_script' "
                                  "line (ngspice may run it)"))
        first = 1
    for i in range(first, len(lines)):
        stripped = lines[i].strip()
        if _COMMAND_COMMENT.match(stripped):
            out.append(Refusal(i + 1, "'*#' and '*ng_script' comments run ngspice commands"))
    depth = 0
    for no, card in _logical_lines(lines, first):
        token = card.split(None, 1)[0].lower()
        quote = "" if library else f": {card[:_QUOTE]!r}"
        if token.startswith("."):
            if library and token in LIBRARY_CARDS:
                continue
            if token not in CARDS:
                out.append(Refusal(no, _refuse_dot(token, library)))
                continue
            if token == ".subckt":
                depth += 1
            elif token == ".ends":
                depth = max(0, depth - 1)
            elif token == ".model":
                kind = _model_type(card)
                if kind not in MODEL_TYPES:
                    shown = "" if library else f" {kind!r}"
                    out.append(Refusal(no, f".model type{shown} is not allowed (XSPICE models "
                                           "that read files or start programs are refused)"))
            continue
        if token[0].upper() not in ELEMENT_LETTERS:
            out.append(Refusal(no, "not an element line, comment or allowed card" + quote))
        elif library and depth == 0:
            out.append(Refusal(no, "an element line outside a .subckt in a model library"))
    return sorted(out, key=lambda r: r.line)


def message(where: str, refusal: Refusal) -> str:
    """One-line message for a refusal (``where`` names the deck or file)."""
    return f"{where} line {refusal.line}: {refusal.reason}"


def check_deck(text: str, where: str = "deck",
               libraries: Sequence[ModelLibrary] = ()) -> None:
    """Raise :class:`NetlistError` for the first line outside the allowlist. The only include
    lines accepted are those :meth:`ModelLibrary.line` writes for ``libraries`` (re-vetted
    now, so a library file changed since it was vetted is refused)."""
    allowed = {lib.line(): lib for lib in libraries}
    lines = text.replace("\r\n", "\n").split("\n")
    kept = []
    for line in lines:
        lib = allowed.get(line)
        if lib is not None:
            current = vet_library(lib.path, lib.section)
            if current.digest != lib.digest:
                raise NetlistError(f"model library {lib.path} changed since it was vetted")
            kept.append("*")  # keep line numbers
        else:
            kept.append(line)
    found = refusals("\n".join(kept))
    if found:
        raise NetlistError(message(where, found[0]))


# ---------------------------------------------------------------- model libraries

#: Bounds on what one library may pull in (a PDK's full model tree is far below them).
MAX_FILES, MAX_BYTES = 5000, 512 * 1024 * 1024

_SECTION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ModelLibrary:
    """A model library circuitsim vetted: the file, the section a deck uses (``.lib``) or
    ``None`` (``.include``), and the SHA-256 over every file it pulls in."""

    path: str
    section: str | None
    digest: str

    def line(self) -> str:
        """The one line that brings this library into a deck."""
        return include_line(self.path, self.section)


def include_line(path: str, section: str | None) -> str:
    """The ``.include``/``.lib`` line circuitsim writes for a library file (``path`` as
    :func:`os.path.realpath` gives it, so the line a generator writes and the line a vetted
    :class:`ModelLibrary` allows are the same text)."""
    if section is None:
        return f'.include "{path}"'
    return f'.lib "{path}" {section}'


def _reference(card: str, token: str, here: Path) -> Path | None:
    """The file a library's ``.include FILE`` / ``.lib FILE SECTION`` card refers to, or
    ``None`` for a ``.lib NAME`` section header or ``.endl``. Raises for a form ngspice might
    resolve differently from this check (``~``, unbalanced quotes)."""
    if token == ".endl":
        return None
    args = card.split(None, 1)[1].strip() if len(card.split(None, 1)) > 1 else ""
    match = re.fullmatch(r'(?:"([^"]+)"|([^\s"]+))(?:\s+(\S+))?', args)
    if not match:
        raise NetlistError("a malformed include or library reference")
    name, section = match.group(1) or match.group(2), match.group(3)
    if token == ".lib" and section is None:
        return None
    if name.startswith("~"):
        raise NetlistError("a reference starting with '~' (ngspice expands it differently)")
    return Path(name) if os.path.isabs(name) else here.parent / name


def _file_state(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _vet_tree(root: Path) -> tuple[str, tuple[tuple[str, tuple[int, int, int]], ...],
                                   frozenset[str], frozenset[str]]:
    """Vet ``root`` and everything it references: ``(digest, file states, root's sections,
    model and subcircuit names defined anywhere in the tree)``."""
    seen: dict[Path, tuple[int, int, int]] = {}
    digest = hashlib.sha256()
    total = 0
    sections: set[str] = set()
    names: set[str] = set()
    top = root.resolve()
    todo = [root]
    while todo:
        path = todo.pop()
        try:
            path = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise NetlistError(f"model library {root}: a referenced file does not exist: "
                               f"{path}") from None
        if path in seen:
            continue
        if not path.is_file():
            raise NetlistError(f"model library file {path} is not a regular file")
        if len(seen) >= MAX_FILES:
            raise NetlistError(f"model library {root} pulls in more than {MAX_FILES} files")
        seen[path] = _file_state(path)
        data = path.read_bytes()
        total += len(data)
        if total > MAX_BYTES:
            raise NetlistError(f"model library {root} is larger than {MAX_BYTES} bytes")
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise NetlistError(f"model library file {path} is not ASCII text") from None
        found = refusals(text, library=True)
        if found:
            raise NetlistError(message(f"model library file {path}", found[0]))
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
        for no, card in _logical_lines(text.replace("\r\n", "\n").split("\n"), 0):
            words = card.split()
            token = words[0].lower()
            if token in (".model", ".subckt") and len(words) > 1:
                names.add(words[1].split("(")[0].lower())
            if token not in (".include", ".inc", ".lib", ".endl"):
                continue
            try:
                ref = _reference(card, token, path)
            except NetlistError as exc:
                raise NetlistError(f"model library file {path} line {no}: {exc}") from None
            if ref is not None:
                todo.append(ref)
            elif path == top and token == ".lib":
                sections.add(card.split()[1].lower())
    return (digest.hexdigest(), tuple((str(p), s) for p, s in seen.items()),
            frozenset(sections), frozenset(names))


#: Vetted trees by root path: (file states when vetted, digest, root's sections, names).
_VETTED: dict[str, tuple[tuple[tuple[str, tuple[int, int, int]], ...], str, frozenset[str],
                         frozenset[str]]] = {}


def _unchanged(states: tuple[tuple[str, tuple[int, int, int]], ...]) -> bool:
    try:
        return all(_file_state(Path(f)) == s for f, s in states)
    except OSError:
        return False


def vet_library(path: str | Path, section: str | None = None) -> ModelLibrary:
    """Vet the model library at ``path`` (and every file it pulls in) for use with ``section``
    (``.lib``) or as a whole (``.include``); raises :class:`NetlistError` naming the file and
    line of the first refused card. Re-vetting an unchanged tree is a few ``stat`` calls."""
    p = Path(path)
    if '"' in str(p) or CONTROL_CHARS.search(str(p)):
        raise NetlistError(f"model library path {str(p)!r} holds a quote or control character")
    if section is not None and not _SECTION.match(section):
        raise NetlistError(f"model library section {section!r} is not a plain name")
    try:
        root = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise NetlistError(f"model library {str(p)!r} does not exist") from None
    key = str(root)
    cached = _VETTED.get(key)
    if cached is None or not _unchanged(cached[0]):
        digest, states, sections, names = _vet_tree(root)
        _VETTED[key] = (states, digest, sections, names)
    _, digest, sections, _ = _VETTED[key]
    if section is not None and section.lower() not in sections:
        known = ", ".join(sorted(sections)) or "none"
        raise NetlistError(f"model library {root} has no section {section!r} (has: {known})")
    return ModelLibrary(key, section, digest)


def defined_names(library: ModelLibrary) -> frozenset[str]:
    """Lower-case ``.model`` and ``.subckt`` names defined anywhere in a vetted library."""
    return _VETTED[library.path][3]
