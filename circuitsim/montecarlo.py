"""Monte-Carlo variability: draw spec parameters from distributions, reproducibly.

A *draw* maps dotted paths into a spec (or any frozen spec-like point, e.g. a testbench spec)
to distributions: ``{"cell.dvt_read": Normal(0.01), "crossbar.conductances":
Normal(0.05, relative=True)}``. Every distribution perturbs the nominal value of its field:
scalars directly, tuple fields (and nested tuples such as a conductance matrix) elementwise,
each element independently. A tuple field that is ``None`` or empty in the spec is first
materialised from its generator (:data:`MATERIALISERS`: the crossbar's drawn conductance
matrix, the ramp's designed conductances, zero offsets of a 3T1C row ...).

Reproducibility: draw ``i`` of path ``p`` uses a generator seeded by
``SeedSequence(seed).spawn(n)[i]`` extended with a stable hash of ``p``, so the same seed gives
the same specs, draw ``i`` does not depend on ``n``, and a path's values do not depend on which
other paths are drawn. Paths are applied in the mapping's order (a later path's materialised
nominal sees the earlier ones).

Validity: conductances (fields in S) are floored at :data:`circuitsim.spec.G_FLOOR` (exact
zeros, e.g. stuck-OFF ramp devices from :class:`StuckAt`, are kept for the spec to judge);
each distribution may clip to ``[clip_min, clip_max]``; then the spec validates itself and a
violation raises :class:`SpecError` naming the path, the draw and the spec's reason.

A variability study is a sweep over drawn points: ``monte_carlo(update_point, base, draws, n,
seed, sweep=sweep)`` runs ``sweep(update_point, draw(base, draws, n, seed))`` (with
:func:`circuitsim.sweep.sweep`: in worker processes, resumable from a store).
"""

from __future__ import annotations

import dataclasses
import types
import typing
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.spec import (
    G_FLOOR,
    fields_of,
    from_mapping,
    param,
    require,
    to_mapping,
    type_label,
)

# ---------------------------------------------------------------- distributions


def _clip_fields(self: Any) -> None:
    lo, hi = self.clip_min, self.clip_max
    if lo is not None and hi is not None:
        require(lo < hi, "clip_min", lo, f"must be < clip_max={hi!r}")


@dataclass(frozen=True, slots=True)
class Normal:
    """Gaussian perturbation: ``x + sigma·ξ`` or, relative, ``x·(1 + sigma·ξ)``, ξ ~ N(0, 1)."""

    sigma: float = param(0.0, "standard deviation (absolute in the field's unit, or relative)")
    relative: bool = param(False, "sigma is a fraction of the nominal value")
    clip_min: float | None = param(None, "clip drawn values to at least this (None: no clip)")
    clip_max: float | None = param(None, "clip drawn values to at most this (None: no clip)")

    def __post_init__(self) -> None:
        require(self.sigma >= 0, "sigma", self.sigma, "must be >= 0")
        _clip_fields(self)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        xi = rng.standard_normal(x.shape)
        return x * (1 + self.sigma * xi) if self.relative else x + self.sigma * xi


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform perturbation: ``x + u`` or, relative, ``x·(1 + u)``, u ~ U(low, high)."""

    low: float = param(0.0, "lower end of the offset (absolute, or relative)")
    high: float = param(0.0, "upper end of the offset (absolute, or relative)")
    relative: bool = param(False, "the offset is a fraction of the nominal value")
    clip_min: float | None = param(None, "clip drawn values to at least this (None: no clip)")
    clip_max: float | None = param(None, "clip drawn values to at most this (None: no clip)")

    def __post_init__(self) -> None:
        require(self.low <= self.high, "low", self.low, f"must be <= high={self.high!r}")
        _clip_fields(self)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.uniform(self.low, self.high, x.shape)
        return x * (1 + u) if self.relative else x + u


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Multiplicative log-normal spread: ``x·exp(sigma·ξ)`` (keeps the sign and the median)."""

    sigma: float = param(0.0, "standard deviation of ln(value / nominal)")
    clip_min: float | None = param(None, "clip drawn values to at least this (None: no clip)")
    clip_max: float | None = param(None, "clip drawn values to at most this (None: no clip)")

    def __post_init__(self) -> None:
        require(self.sigma >= 0, "sigma", self.sigma, "must be >= 0")
        _clip_fields(self)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x * np.exp(self.sigma * rng.standard_normal(x.shape))


@dataclass(frozen=True, slots=True)
class StuckAt:
    """Each element independently replaced by ``value`` with probability ``p`` (stuck devices)."""

    p: float = param(0.0, "probability that an element is stuck")
    value: float = param(0.0, "the stuck value (e.g. 0 S: stuck OFF)")
    clip_min: float | None = param(None, "clip drawn values to at least this (None: no clip)")
    clip_max: float | None = param(None, "clip drawn values to at most this (None: no clip)")

    def __post_init__(self) -> None:
        require(0 <= self.p <= 1, "p", self.p, "must be in [0, 1]")
        _clip_fields(self)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.where(rng.random(x.shape) < self.p, self.value, x)


Distribution = Normal | Uniform | LogNormal | StuckAt

#: Distributions by the ``kind`` key used in TOML/JSON.
DISTRIBUTIONS: dict[str, type] = {"normal": Normal, "uniform": Uniform, "lognormal": LogNormal,
                          "stuck_at": StuckAt}


def dist_to_mapping(dist: Distribution) -> dict[str, Any]:
    """``{"kind": ..., **fields}`` (JSON/TOML-able)."""
    kind = next(k for k, cls in DISTRIBUTIONS.items() if isinstance(dist, cls))
    return {"kind": kind, **to_mapping(dist)}


def dist_from_mapping(mapping: Mapping[str, Any], where: str = "distribution") -> Distribution:
    """A distribution from ``{"kind": "normal", "sigma": 0.01, ...}``."""
    body = dict(mapping)
    kind = body.pop("kind", None)
    if kind not in DISTRIBUTIONS:
        raise SpecError(f"{where}.kind: {kind!r} is not one of {', '.join(DISTRIBUTIONS)}")
    return from_mapping(DISTRIBUTIONS[kind], body, where=where)


def draws_from_mapping(mapping: Mapping[str, Mapping[str, Any]]) -> dict[str, Distribution]:
    """``{path: distribution}`` from a TOML/JSON table of ``{path: {kind = ..., ...}}``."""
    return {path: dist_from_mapping(m, where=path) for path, m in mapping.items()}


def draws_to_mapping(draws: Mapping[str, Distribution]) -> dict[str, dict[str, Any]]:
    return {path: dist_to_mapping(d) for path, d in draws.items()}


# ---------------------------------------------------------------- materialisers


def _crossbar_conductances(spec: Any) -> Any:
    from circuitsim.netlist.crossbar import conductance_matrix

    return conductance_matrix(spec)


def _ramp_g(field: str) -> Callable[[Any], Any]:
    def materialise(spec: Any) -> Any:
        from circuitsim.netlist.ramp import ramp_design

        return getattr(ramp_design(spec), field)
    return materialise


def _ramp_x(field: str) -> Callable[[Any], Any]:
    def materialise(spec: Any) -> Any:
        return getattr(spec.designed(), field)
    return materialise


def _row_zeros(spec: Any) -> Any:
    return np.zeros(spec.n)


def _mac_inputs(spec: Any) -> Any:
    from circuitsim.netlist.tb_mac import input_matrix

    return input_matrix(spec)


def _materialisers() -> dict[tuple[type, str], Callable[[Any], Any]]:
    from circuitsim.netlist.cell3t1c import Cell3T1CRowSpec
    from circuitsim.netlist.crossbar import CrossbarSpec
    from circuitsim.netlist.ramp import RampSpec
    from circuitsim.netlist.tb_mac import MacTestbenchSpec

    return {
        (CrossbarSpec, "conductances"): _crossbar_conductances,
        (RampSpec, "g_ramp"): _ramp_g("g_ramp"),
        (RampSpec, "g_cal"): _ramp_g("g_cal"),
        (RampSpec, "x_min"): _ramp_x("x_min"),
        (RampSpec, "x_max"): _ramp_x("x_max"),
        (Cell3T1CRowSpec, "dvt_read"): _row_zeros,
        (Cell3T1CRowSpec, "dvt_up"): _row_zeros,
        (Cell3T1CRowSpec, "dvt_down"): _row_zeros,
        (Cell3T1CRowSpec, "ref_dvt"): lambda spec: np.zeros(3),
        (MacTestbenchSpec, "inputs"): _mac_inputs,
    }


#: (spec class, field) -> function giving the value a None/empty field stands for.
MATERIALISERS = _materialisers()


# ---------------------------------------------------------------- paths

def _float_shape(tp: Any) -> str | None:
    """'scalar', 'tuple' or 'matrix' for the drawable field types, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _float_shape(options[0]) if len(options) == 1 else None
    if tp is float:
        return "scalar"
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if args == (float, Ellipsis):
            return "tuple"
        if len(args) == 2 and args[1] is Ellipsis and _float_shape(args[0]) == "tuple":
            return "matrix"
    return None


def _resolve(spec: Any, path: str) -> tuple[list[Any], list[str], Any]:
    """The chain of specs from the root to the leaf's owner, the path parts, the leaf info."""
    parts = path.split(".")
    owners, node = [], spec
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(node):
            raise SpecError(f"{path}: {'.'.join(parts[:i])} is not a spec, cannot reach {part!r}")
        infos = {f.name: f for f in fields_of(type(node))}
        if part not in infos:
            where = ".".join(parts[:i]) or type(spec).__name__
            raise SpecError(f"{path}: {where} has no field {part!r} (known: "
                            f"{', '.join(infos)})")
        owners.append(node)
        if i == len(parts) - 1:
            return owners, parts, infos[part]
        node = getattr(node, part)
    raise AssertionError("unreachable")


def _kind(info: Any, path: str) -> str:
    kind = _float_shape(info.type)
    if kind is None:
        label = (f"nested spec {info.type.__name__}" if dataclasses.is_dataclass(info.type)
                 else f"field of type {type_label(info.type)}")
        raise SpecError(f"{path}: a {label} cannot be drawn "
                        "(only float fields and tuples of floats)")
    return kind


def _nominal(owner: Any, info: Any, path: str) -> tuple[np.ndarray, str]:
    kind = _kind(info, path)
    value = getattr(owner, info.name)
    if value is None or (kind != "scalar" and len(value) == 0):
        make = MATERIALISERS.get((type(owner), info.name))
        if make is None:
            raise SpecError(f"{path}: is {value!r} in the spec; give a nominal value first")
        value = make(owner)
    return np.asarray(value, dtype=float), kind


def _as_field(values: np.ndarray, kind: str) -> Any:
    if kind == "scalar":
        return float(values)
    if kind == "tuple":
        return tuple(float(v) for v in values)
    return tuple(tuple(float(v) for v in row) for row in values)


def _rebuild(owners: list[Any], parts: list[str], value: Any) -> Any:
    for owner, part in zip(reversed(owners), reversed(parts), strict=True):
        value = dataclasses.replace(owner, **{part: value})
    return value


def perturb(spec: Any, path: str, dist: Distribution, rng: np.random.Generator) -> Any:
    """``spec`` with the field at ``path`` drawn from ``dist`` (raises SpecError naming path)."""
    owners, parts, info = _resolve(spec, path)
    nominal, kind = _nominal(owners[-1], info, path)
    drawn = dist.apply(nominal, rng)
    if dist.clip_min is not None or dist.clip_max is not None:
        drawn = np.clip(drawn, dist.clip_min, dist.clip_max)
    if info.unit == "S":
        drawn = np.where((drawn != 0) & (drawn < G_FLOOR), G_FLOOR, drawn)
    value = _as_field(drawn, kind)
    try:
        return _rebuild(owners, parts, value)
    except SpecError as exc:
        shown = value if kind == "scalar" else f"{kind} of {nominal.size} values"
        raise SpecError(f"{path}: drawn {shown} gives an invalid spec: {exc}") from None


# ---------------------------------------------------------------- drawing

def _path_key(path: str) -> int:
    return zlib.crc32(path.encode())


def draw_one(spec: Any, draws: Mapping[str, Distribution], seed: int, index: int) -> Any:
    """Draw number ``index`` (0-based) of the seed: the same as ``draw(...)[index]``.

    Its seed sequence is ``SeedSequence(seed).spawn(n)[index]`` (built directly as
    ``SeedSequence(seed, spawn_key=(index,))``), extended per path by a hash of the path.
    """
    out = spec
    for path, dist in draws.items():
        ss = np.random.SeedSequence(seed, spawn_key=(index, _path_key(path)))
        try:
            out = perturb(out, path, dist, np.random.default_rng(ss))
        except SpecError as exc:
            raise SpecError(f"{exc} (draw {index}, seed {seed})") from None
    return out


def draw(spec: Any, draws: Mapping[str, Distribution], n: int, seed: int) -> list[Any]:
    """``n`` independently drawn copies of ``spec`` (reproducible; draw ``i`` independent of
    ``n``). ``draws`` maps dotted field paths to distributions."""
    require(isinstance(n, int) and n >= 1, "n", n, "must be an integer >= 1")
    require(isinstance(seed, int) and seed >= 0, "seed", seed, "must be an integer >= 0")
    for path, dist in draws.items():
        if not isinstance(dist, Normal | Uniform | LogNormal | StuckAt):
            raise SpecError(f"{path}: {dist!r} is not a distribution "
                            f"({', '.join(c.__name__ for c in DISTRIBUTIONS.values())})")
        _kind(_resolve(spec, path)[2], path)
    return [draw_one(spec, draws, seed, i) for i in range(n)]


def value_at(spec: Any, path: str) -> Any:
    """The value of the field at a dotted ``path`` (None/empty fields materialised)."""
    owners, _, info = _resolve(spec, path)
    value = getattr(owners[-1], info.name)
    if value is None or (isinstance(value, tuple) and not value):
        make = MATERIALISERS.get((type(owners[-1]), info.name))
        if make is not None:
            return np.asarray(make(owners[-1]))
    return np.asarray(value)


# ---------------------------------------------------------------- studies

def serial(fn: Callable[[Any], Any], points: Iterable[Any]) -> list[Any]:
    """The trivial sweep: ``fn`` on every point, in order, in this process."""
    return [fn(p) for p in points]


@dataclass(frozen=True, slots=True)
class MonteCarloRun:
    """Drawn points and their results, in draw order."""

    points: tuple[Any, ...]
    results: tuple[Any, ...]
    draws: Mapping[str, Distribution]
    seed: int

    def values(self, path: str) -> np.ndarray:
        """Drawn values at ``path``, shape ``(n, *field shape)``."""
        return np.stack([value_at(p, path) for p in self.points])

    def stack(self) -> dict[str, np.ndarray]:
        """Every result's ``to_arrays()`` stacked along a leading draw axis ``(n, ...)``."""
        arrays = [r.to_arrays() for r in self.results]
        return {k: np.stack([a[k] for a in arrays]) for k in arrays[0]}


def monte_carlo(fn: Callable[[Any], Any], base: Any, draws: Mapping[str, Distribution], n: int,
                seed: int, *, sweep: Callable[[Callable[[Any], Any], Sequence[Any]], Any]
                | None = None) -> MonteCarloRun:
    """Run ``fn`` (a module-level function of one point, e.g. ``update_point``) on ``n`` points
    drawn from ``base``. ``sweep(fn, points)`` runs them (default :func:`serial`); it returns
    the results in point order, as an iterable or as an object with a ``results`` list such as
    :class:`circuitsim.sweep.SweepResult` (failed points are then ``None``). Pass options with
    ``functools.partial(circuitsim.sweep.sweep, store=..., workers=...)``."""
    points = draw(base, draws, n, seed)
    out = (sweep or serial)(fn, points)
    results = tuple(out.results if hasattr(out, "results") else out)
    if len(results) != len(points):
        raise SpecError(f"sweep: returned {len(results)} results for {len(points)} points")
    return MonteCarloRun(tuple(points), results, dict(draws), seed)
