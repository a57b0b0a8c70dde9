"""Helpers shared by every frozen spec dataclass.

A spec is ``@dataclass(frozen=True, slots=True)`` whose fields are declared with :func:`param`
(default, meaning, SI unit). Specs are built from plain mappings (TOML/JSON files, ``--set
key=value`` overrides) by :func:`from_mapping`, which converts and checks every value against
the field's declared type and names the field and value in any error.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from circuitsim.errors import SpecError

#: Smallest non-zero conductance a deck may carry (S): its resistor is at most 1 PΩ.
G_FLOOR = 1e-15


def param(default: Any, doc: str, unit: str = "") -> Any:
    """Declare a spec field with its default, its meaning and its SI unit."""
    return dataclasses.field(default=default, metadata={"doc": doc, "unit": unit})


@dataclasses.dataclass(frozen=True, slots=True)
class FieldInfo:
    """One documented spec field, as listed by ``circuitsim netlist --list``."""

    name: str
    type: Any
    default: Any
    doc: str
    unit: str


@functools.cache
def fields_of(cls: type) -> list[FieldInfo]:
    hints = typing.get_type_hints(cls)
    return [
        FieldInfo(f.name, hints[f.name], f.default, f.metadata.get("doc", ""),
                  f.metadata.get("unit", ""))
        for f in dataclasses.fields(cls)
    ]


def type_label(tp: Any) -> str:
    if tp in (int, float, bool, str):
        return tp.__name__
    return str(tp).replace("typing.", "")


# ---------------------------------------------------------------- value coercion

def _coerce(value: Any, tp: Any, field: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, field)
            except SpecError as exc:
                errors.append(exc)
        raise errors[0]
    if typing.get_origin(tp) is typing.Literal:
        if value not in typing.get_args(tp):
            allowed = ", ".join(repr(a) for a in typing.get_args(tp))
            raise SpecError(f"{field}: {short(value)} is not one of {allowed}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise SpecError(f"{field}: expected a table of {tp.__name__} fields, "
                            f"got {short(value)}")
        try:
            return from_mapping(tp, value, where=field)
        except SpecError as exc:
            text = str(exc)
            raise SpecError(text if text.startswith(f"{field}") else f"{field}.{text}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise SpecError(f"{field}: expected true or false, got {short(value)}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{field}: expected an integer, got {short(value)}")
        if isinstance(value, float) and not value.is_integer():
            raise SpecError(f"{field}: expected an integer, got {short(value)}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{field}: expected a number, got {short(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            number = math.inf
        if not math.isfinite(number):
            raise SpecError(f"{field}: expected a finite number, got {short(value)}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"{field}: expected a string, got {short(value)}")
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise SpecError(f"{field}: expected a list, got {short(value)}")
        items = list(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{field}[{i}]") for i, v in enumerate(items))
        if len(items) != len(args):
            raise SpecError(f"{field}: expected {len(args)} items, got {short(value)}")
        pairs = enumerate(zip(items, args, strict=True))
        return tuple(_coerce(v, a, f"{field}[{i}]") for i, (v, a) in pairs)
    raise SpecError(f"{field}: unsupported field type {tp!r}")


def parse_text(text: str, tp: Any, field: str) -> Any:
    """Parse a ``--set`` value given as text into the field's type."""
    raw = text.strip()
    if raw.lower() in ("none", "null"):
        return _coerce(None, tp, field)
    if raw.lower() in ("true", "false"):
        return _coerce(raw.lower() == "true", tp, field)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, a number too long, nested too deeply
        value = raw
    if tp is str or (isinstance(value, str) and _accepts_str(tp)):
        return _coerce(raw if not isinstance(value, str) else value, tp, field)
    try:
        return _coerce(value, tp, field)
    except SpecError:
        raise SpecError(f"{field}: cannot parse {short(text)} as {type_label(tp)}") from None


def _accepts_str(tp: Any) -> bool:
    if tp is str:
        return True
    if typing.get_origin(tp) is typing.Literal:
        return all(isinstance(a, str) for a in typing.get_args(tp))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_accepts_str(a) for a in typing.get_args(tp))
    return False


# ---------------------------------------------------------------- building specs

def from_mapping(cls: type, mapping: Mapping[str, Any], where: str | None = None) -> Any:
    """Build ``cls`` from a mapping; unknown keys and bad values raise :class:`SpecError`."""
    label = where or cls.__name__
    infos = {f.name: f for f in fields_of(cls)}
    kwargs = {}
    for key, value in mapping.items():
        if key not in infos:
            raise SpecError(f"{label}: unknown key {key!r} (known: {', '.join(infos)})")
        info = infos[key]
        if (dataclasses.is_dataclass(info.type) and isinstance(value, Mapping)
                and dataclasses.is_dataclass(info.default)):
            # a partial table overrides the parent's default instance, not the class defaults
            value = deep_merge(to_mapping(info.default), value)
        kwargs[key] = _coerce(value, info.type, key)
    return cls(**kwargs)


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``, recursing into nested tables."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def build(cls: type, mapping: Mapping[str, Any] | None = None,
          assignments: Iterable[str] = ()) -> Any:
    """Build ``cls`` from a (nested) mapping plus ``key=value`` overrides.

    Dotted keys reach nested specs: ``crossbar.rows=8`` sets ``rows`` of the ``crossbar`` field.
    """
    merged: dict[str, Any] = _deep_copy(mapping or {})
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError(f"--set: expected key=value, got {item!r}")
        target, tp = merged, cls
        parts = key.split(".")
        for i, part in enumerate(parts):
            infos = {f.name: f for f in fields_of(tp)} if dataclasses.is_dataclass(tp) else {}
            if part not in infos:
                where = ".".join(parts[:i]) or cls.__name__
                known = ", ".join(infos) or "none"
                raise SpecError(f"{where}: unknown key {part!r} (known: {known})")
            tp = infos[part].type
            if i < len(parts) - 1:
                sub = target.get(part)
                if sub is None:
                    sub = {}
                elif dataclasses.is_dataclass(sub):
                    sub = to_mapping(sub)
                elif not isinstance(sub, dict):
                    raise SpecError(f"{'.'.join(parts[:i + 1])}: expected a table, got {sub!r}")
                target[part] = sub
                target = sub
            else:
                target[part] = parse_text(text, tp, key)
    return from_mapping(cls, merged)


def _deep_copy(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}


def to_mapping(spec: Any) -> dict[str, Any]:
    """Plain JSON-able dict of a spec (tuples become lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return to_mapping(v)
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        return v

    return {f.name: plain(getattr(spec, f.name)) for f in dataclasses.fields(spec)}


# ---------------------------------------------------------------- validation helpers

#: Physical range of a field by its SI unit: ``|value| <= bound``. No block, testbench or
#: training setting needs more, and beyond these a run cannot finish or a number is a typo
#: (``t_hold=1e308`` would ask ngspice for 1e308 s of transient; "s" is simulated time,
#: "s wall clock" a time limit of the machine's own).
UNIT_RANGES: dict[str, float] = {
    "s": 10.0, "s wall clock": 1e6, "m": 1e-3, "V": 100.0, "S": 1.0, "F": 1e-6, "Ohm": 1e15,
    "A": 10.0, "W": 1e3, "V/V": 1e12, "bit": 24,
}


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, tuple):
        return [x for v in value for x in _numbers(v)]
    return []


def check_types(spec: Any) -> None:
    """Check every field of a spec against its declared type (``Literal`` choices included)
    and its unit's physical range (:data:`UNIT_RANGES`), so a spec built directly in Python is
    as strict as one read from a file: an ``int`` field holds an ``int`` (``rows=4.0`` is
    refused here; files and ``--set`` convert integral numbers before building)."""
    for info in fields_of(type(spec)):
        value = getattr(spec, info.name)
        coerced = _coerce(value, info.type, info.name)
        if type(coerced) is int and type(value) is not int:
            raise SpecError(f"{info.name}: expected an integer, got {short(value)}")
        bound = UNIT_RANGES.get(info.unit)
        if bound is not None:
            for x in _numbers(value):
                require(abs(x) <= bound, info.name, value,
                        f"outside the physical range |x| <= {bound:g} {info.unit}")


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text)} chars)"


def require(condition: bool, field: str, value: Any, why: str) -> None:
    """Raise ``SpecError("field=value: why")`` unless ``condition``."""
    if not condition:
        raise SpecError(f"{field}={short(value)}: {why}")


#: Most runs one command may start without ``--force``.
MAX_RUNS = 100_000
#: Most Monte-Carlo trials a characterization spec may ask for (each is one or more decks).
MAX_TRIALS = 100_000


def _duration(seconds: float) -> str:
    for unit, size in (("years", 3.156e7), ("days", 86400.0), ("hours", 3600.0),
                       ("minutes", 60.0)):
        if seconds >= size:
            return f"~{seconds / size:.3g} {unit}"
    return f"~{seconds:.3g} s"


def require_budget(field: str, value: Any, runs: float, seconds_per_run: float,
                   workers: int, force: bool = False) -> None:
    """Refuse a command that would start more than :data:`MAX_RUNS` runs (unless ``force``),
    saying how long it would take at ``seconds_per_run`` (a measured lower bound)."""
    if runs <= MAX_RUNS or force:
        return
    eta = _duration(runs * seconds_per_run / max(1, workers))
    raise SpecError(f"{field}={short(value)}: {runs:.3g} runs would take {eta} on {workers} "
                    f"worker(s) (>= {seconds_per_run:g} s per run); at most {MAX_RUNS} without "
                    "--force")


def positive(spec: Any, *names: str) -> None:
    for n in names:
        v = getattr(spec, n)
        require(v > 0, n, v, "must be > 0")


def non_negative(spec: Any, *names: str) -> None:
    for n in names:
        v = getattr(spec, n)
        require(v >= 0, n, v, "must be >= 0")


#: A spec file is a few tables of numbers; anything far larger is a mistake.
MAX_SPEC_CHARS = 1_000_000


def load_file(path: str) -> dict[str, Any]:
    """Read a spec mapping from a ``.toml`` or ``.json`` file (error names the file)."""
    import tomllib
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() not in (".toml", ".json"):
        raise SpecError(f"--spec: {path!r} must be a .toml or .json file")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"--spec: cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(f"--spec: {path!r} is not UTF-8 text") from None
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"--spec: {path!r} is larger than {MAX_SPEC_CHARS} characters")
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"--spec: {path!r} is not valid {p.suffix[1:].upper()}: {exc}") from None
    except (RecursionError, ValueError) as exc:  # nesting, or an integer too long to convert
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SpecError(f"--spec: {path!r}: {why}") from None
    if not isinstance(data, dict):
        raise SpecError(f"--spec: {path!r} must hold a table of spec fields")
    return data
