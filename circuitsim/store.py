"""On-disk result store for sweeps: one record per point, content-addressed, no pickle.

A record is ``<key>.npz`` (the result's named arrays, written with ``allow_pickle=False``)
plus ``<key>.json`` (what produced it: function, point, versions, the npz's SHA-256, timings).
The JSON is written last, atomically, so a record exists exactly when its JSON does; a record
whose npz is missing, truncated or has another hash is reported and recomputed, never used.
Failed points leave ``<key>.error.json`` (message, log tail, run dir) and are retried on the
next run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim._version import __version__
from circuitsim.errors import CacheError
from circuitsim.io import write_atomic


def canonical(value: Any) -> Any:
    """A JSON-able canonical form of a point (dataclasses, tuples, arrays, numbers, strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__qualname__,
                **{f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, np.ndarray):
        return canonical(value.tolist())
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise CacheError(f"cannot key a sweep point holding {type(value).__name__}")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fn_name(fn: Any) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


#: Source that cannot change a record or a fitted surrogate (training, plots, command line,
#: demo): left out of :func:`code_fingerprint` so editing it keeps the caches.
NOT_FINGERPRINTED = ("train/*", "*plots.py", "*cli.py", "demo.py", "reproduce/*")


@functools.cache
def code_fingerprint() -> str:
    """Hash of circuitsim's own source and model files: any change to the code that produced
    a record (generators, post-processing, fitting) makes new keys, so stale records are never
    used. Modules matching :data:`NOT_FINGERPRINTED` are excluded."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    paths = [p for p in [*root.rglob("*.py"), *(root / "models").glob("*.lib")]
             if not any(p.relative_to(root).match(pat) for pat in NOT_FINGERPRINTED)]
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def point_key(fn: Any, point: Any, ngspice_version: str) -> str:
    """Content hash of (function, point, decks if the function declares them, ngspice version,
    circuitsim version and source fingerprint)."""
    material: dict[str, Any] = {"fn": fn_name(fn), "point": canonical(point),
                                "ngspice": ngspice_version, "circuitsim": __version__,
                                "code": code_fingerprint()}
    decks = getattr(fn, "decks", None)
    if decks is not None:
        material["decks"] = [sha256_text(d) for d in decks(point)]
    return sha256_text(json.dumps(material, sort_keys=True, separators=(",", ":")))


def result_arrays(result: Any) -> dict[str, np.ndarray]:
    """Named arrays of a result dataclass (``to_arrays()`` if it has one)."""
    if hasattr(result, "to_arrays"):
        arrays = result.to_arrays()
    elif dataclasses.is_dataclass(result):
        arrays = {f.name: np.asarray(getattr(result, f.name)) for f in dataclasses.fields(result)}
    else:
        raise CacheError(f"cannot store a sweep result of type {type(result).__name__}")
    bad = [k for k, v in arrays.items() if np.asarray(v).dtype == object]
    if bad:
        raise CacheError(f"result fields {bad} are not plain arrays; cannot store without pickle")
    return {k: np.asarray(v) for k, v in arrays.items()}


def _result_type(path: str) -> type:
    module, _, name = path.rpartition(".")
    if not module.startswith("circuitsim."):
        raise CacheError(f"record names result type {path!r} outside circuitsim; refusing it")
    cls = getattr(importlib.import_module(module), name, None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise CacheError(f"record names {path!r}, which is not a circuitsim result type")
    return cls


def rebuild(cls: type, arrays: dict[str, np.ndarray]) -> Any:
    if hasattr(cls, "from_arrays"):
        return cls.from_arrays(arrays)
    kwargs = {k: (v.item() if v.ndim == 0 else v) for k, v in arrays.items()}
    return cls(**kwargs)


class ResultStore:
    """A directory of sweep records (see the module docstring)."""

    def __init__(self, directory: Path | str):
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"--store: cannot create {str(self.dir)!r}: {exc.strerror}") from None

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        return self.dir / f"{key}.npz", self.dir / f"{key}.json", self.dir / f"{key}.error.json"

    def has(self, key: str) -> bool:
        return self._paths(key)[1].exists()

    def load(self, key: str) -> Any:
        """The stored result, or :class:`CacheError` if the record is missing, corrupt or of
        a shape this code no longer reads (any failure to rebuild it counts as corrupt)."""
        try:
            return self._load(key)
        except CacheError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever is wrong, the record is not used
            raise CacheError(f"record {key[:12]} unusable: {type(exc).__name__}: {exc}") from None

    def _load(self, key: str) -> Any:
        npz, meta_path, _ = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
            blob = npz.read_bytes()
        except (OSError, json.JSONDecodeError) as exc:
            raise CacheError(f"record {key[:12]} unreadable: {exc}") from None
        if hashlib.sha256(blob).hexdigest() != meta.get("npz_sha256"):
            raise CacheError(f"record {key[:12]}: {npz.name} does not match its recorded hash")
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return rebuild(_result_type(meta["result_type"]), arrays)

    def save(self, key: str, fn: Any, point: Any, result: Any, seconds: float) -> None:
        npz, meta_path, err = self._paths(key)
        buf = io.BytesIO()
        np.savez(buf, **result_arrays(result))
        blob = buf.getvalue()
        write_atomic(npz, blob)
        meta = {"key": key, "fn": fn_name(fn), "point": canonical(point),
                "code": code_fingerprint(),
                "result_type": f"{type(result).__module__}.{type(result).__qualname__}",
                "npz_sha256": hashlib.sha256(blob).hexdigest(), "seconds": seconds,
                "circuitsim": __version__, "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_atomic(meta_path, json.dumps(meta, indent=1) + "\n")
        err.unlink(missing_ok=True)

    def save_error(self, key: str, fn: Any, point: Any, error: BaseException) -> None:
        record = {"key": key, "fn": fn_name(fn), "point": canonical(point),
                  "error": f"{type(error).__name__}: {error}",
                  "log_tail": (getattr(error, "log", "") or "")[-4000:],
                  "run_dir": str(getattr(error, "run_dir", "") or "")}
        write_atomic(self._paths(key)[2], json.dumps(record, indent=1) + "\n")

    def discard(self, key: str) -> None:
        for p in self._paths(key)[:2]:
            p.unlink(missing_ok=True)

    def keys(self) -> list[str]:
        return sorted(p.name[:-5] for p in self.dir.glob("*.json")
                      if not p.name.endswith(".error.json"))
