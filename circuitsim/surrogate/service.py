"""Characterize → fit → cache → validate, for any surrogate kind (what the CLI calls).

:func:`make_spec` builds a kind's characterization spec (from a file mapping, ``--set``
overrides and the ``QUICK`` preset); :func:`get_surrogate` returns the cached surrogate for a
spec or characterizes and fits it (under the cache entry's lock, so two processes never fit
the same entry twice); :func:`validate_surrogate` runs the held-out SPICE checks and records
them in the entry's sidecar. Characterization sweeps keep every simulated point in a result
store (default ``<cache>/sweeps``), so an interrupted characterization resumes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from circuitsim import fidelity
from circuitsim.errors import CacheError, SpecError
from circuitsim.spec import build, deep_merge, to_mapping
from circuitsim.spice.ngspice import ngspice_version
from circuitsim.surrogate.cache import Entry, SurrogateCache, cache_key, key_material
from circuitsim.surrogate.kinds import SurrogateKind, get_kind


def nest(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` → ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *head, last = key.split(".")
        target = out
        for part in head:
            target = target.setdefault(part, {})
        target[last] = value
    return out


def make_spec(kind: str, mapping: dict[str, Any] | None = None, sets: list[str] | tuple = (),
              quick: bool = False, read_mode: str | None = None) -> Any:
    """The characterization spec of ``kind``: defaults ← QUICK (if ``quick``) ← the MAC read
    mode's circuit (``read_mode``, a name of ``READ_MODES``) ← ``mapping`` ← ``sets``
    (``key=value`` with dotted keys)."""
    from circuitsim.characterize.mac_circuit import READ_MODES

    k = get_kind(kind)
    base = nest(k.quick) if quick else {}
    if read_mode is not None:
        if kind != "mac" or read_mode not in READ_MODES:
            raise SpecError(f"read_mode={read_mode!r}: "
                            + (f"must be one of {', '.join(READ_MODES)}" if kind == "mac"
                               else f"only the mac kind has read modes, not {kind}"))
        base = deep_merge(base, {"circuit": READ_MODES[read_mode]})
    return build(k.spec_class, deep_merge(base, mapping or {}), list(sets))


@dataclass(frozen=True, slots=True)
class Runner:
    """How characterization and validation sweeps run."""

    store: Path | None = None  #: sweep result store (None: ``<cache>/sweeps``)
    workers: int | None = None
    scheduler: str | None = None
    progress: bool = True

    def kwargs(self, cache: SurrogateCache) -> dict[str, Any]:
        return {"store": self.store if self.store is not None else cache.dir / "sweeps",
                "workers": self.workers, "scheduler": self.scheduler, "progress": self.progress}


def entry_key(kind: str, spec: Any) -> tuple[str, dict[str, Any]]:
    material = key_material(kind, spec, ngspice_version())
    return cache_key(material), material


def load_cached(k: SurrogateKind, key: str, cache: SurrogateCache,
                locked: bool = False) -> tuple[Any, Entry] | None:
    """The cached surrogate and its entry, or ``None``. A corrupt entry is reported and
    deleted only by a caller holding the entry's lock (``locked``): without the lock it may
    be an entry another process is rewriting, so it is just not used."""
    try:
        entry = cache.read(k.name, key)
        if entry is None:
            return None
        return k.surrogate_class.from_arrays(entry.arrays), entry
    except CacheError as exc:
        if locked:
            cache.report_corrupt(exc)
            cache.discard(k.name, key)
        return None


def characterize(kind: str, spec: Any, runner: Runner, cache: SurrogateCache) -> Any:
    """Run the characterization sweep of ``spec`` (resumable through the runner's store)."""
    return get_kind(kind).characterize(spec, **runner.kwargs(cache))


def get_surrogate(kind: str, spec: Any, *, cache: SurrogateCache | None = None,
                  runner: Runner | None = None, dataset: Any = None,
                  force: bool = False) -> tuple[Any, Entry, bool]:
    """The surrogate for ``spec``: from the cache, or characterized (unless ``dataset`` is
    given), fitted and cached. Returns ``(surrogate, entry, fitted_now)``.

    A kind with ``parts`` (the ADC: one per resolution) gets, without ``dataset``, each part
    from its own cache entry (characterized if missing) and an entry for the merged whole."""
    k = get_kind(kind)
    cache = cache or SurrogateCache()
    runner = runner or Runner()
    key, material = entry_key(kind, spec)
    if not force:
        hit = load_cached(k, key, cache)
        if hit is not None:
            return (*hit, False)
    with cache.locked(kind, key):
        if not force:  # another process may have built it while we waited for the lock
            hit = load_cached(k, key, cache, locked=True)
            if hit is not None:
                return (*hit, False)
        parts = k.parts(spec) if k.parts is not None and dataset is None else [spec]
        if len(parts) > 1:
            sur, meta = _merged(k, parts, cache, runner, force)
        else:
            sur, meta = _fitted(k, spec, cache, runner, dataset)
        entry = cache.write(kind, key, sur.to_arrays(), {"material": material,
                                                         "spec": to_mapping(spec), **meta})
    # what is used is what a later load gets: rebuild from the stored arrays
    return k.surrogate_class.from_arrays(entry.arrays), entry, True


def _fitted(k: SurrogateKind, spec: Any, cache: SurrogateCache, runner: Runner,
            dataset: Any) -> tuple[Any, dict[str, Any]]:
    """Characterize (unless ``dataset`` is given) and fit: the surrogate and its sidecar."""
    t0 = time.perf_counter()
    ds = dataset if dataset is not None else k.characterize(spec, **runner.kwargs(cache))
    t1 = time.perf_counter()
    sur = k.fit(ds)
    t2 = time.perf_counter()
    return sur, {"dataset_summary": fidelity.to_json(k.dataset_summary(ds)), "fit": sur.info(),
                 "seconds": {"characterize": round(t1 - t0, 3), "fit": round(t2 - t1, 3)}}


def _merged(k: SurrogateKind, parts: list[Any], cache: SurrogateCache, runner: Runner,
            force: bool) -> tuple[Any, dict[str, Any]]:
    """Each part from its own entry, then merged: the surrogate and its sidecar."""
    t0 = time.perf_counter()
    got = [get_surrogate(k.name, p, cache=cache, runner=runner, force=force) for p in parts]
    sur = k.merge([g[0] for g in got])
    return sur, {"parts": [g[1].key for g in got],
                 "dataset_summary": [c for g in got for c in g[1].meta["dataset_summary"]],
                 "fit": sur.info(), "seconds": {"parts": round(time.perf_counter() - t0, 3)}}


def dataset_spec(kind: str, dataset: Any) -> Any:
    """The characterization spec a dataset was simulated from (its ``spec_json``)."""
    k = get_kind(kind)
    try:
        mapping = json.loads(dataset.spec_json)
    except (AttributeError, json.JSONDecodeError) as exc:
        raise SpecError(f"--dataset: no readable spec_json in the dataset ({exc})") from None
    return build(k.spec_class, mapping)


def load_dataset(kind: str, path: str) -> Any:
    """A dataset ``.npz`` written by ``circuitsim characterize`` (no pickle)."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"--dataset: {path!r} is not a file")
    try:
        return get_kind(kind).dataset_class.load(p)
    except Exception as exc:  # noqa: BLE001 - whatever np.load or the record refuses
        raise SpecError(f"--dataset: {path!r} is not a readable {kind} dataset "
                        f"({type(exc).__name__}: {exc})") from None


def validate_surrogate(kind: str, spec: Any, *, cache: SurrogateCache | None = None,
                       runner: Runner | None = None) -> tuple[Any, Any, Entry]:
    """Validate the (cached or freshly fitted) surrogate of ``spec`` against held-out SPICE
    runs; the checks go into the entry's sidecar. Returns ``(validation, surrogate, entry)``."""
    k = get_kind(kind)
    cache = cache or SurrogateCache()
    runner = runner or Runner()
    sur, entry, _ = get_surrogate(kind, spec, cache=cache, runner=runner)
    t0 = time.perf_counter()
    val = k.validate(sur, spec, **runner.kwargs(cache))
    entry = cache.update_meta(entry, validation=fidelity.to_json(val.checks),
                              validated=time.strftime("%Y-%m-%dT%H:%M:%S"),
                              validation_seconds=round(time.perf_counter() - t0, 3))
    return val, sur, entry
