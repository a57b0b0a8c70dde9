"""On-disk result store for sweeps: one record per point, content-addressed, no pickle.

A record is ``<key>.npz`` (the result's named arrays, written with ``allow_pickle=False``)
plus ``<key>.json`` (what produced it: function, point, versions, record-code fingerprint,
the npz's SHA-256, timings).
The JSON is written last, atomically, so a record exists exactly when its JSON does; a record
whose npz is missing, truncated or has another hash is reported and recomputed, never used.
Failed points leave ``<key>.error.json`` (message, log tail, run dir) and are retried on the
next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim._version import __version__
from circuitsim.errors import CacheError, OutputError
from circuitsim.fingerprint import record_code
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


def point_key(fn: Any, point: Any, ngspice_version: str) -> str:
    """Content hash of what a record holds: the function and point, the decks if the
    function declares them, the ngspice version and the code that turns the run into a
    record (:func:`circuitsim.fingerprint.record_code`), so an unrelated edit keeps records."""
    material: dict[str, Any] = {"fn": fn_name(fn), "point": canonical(point),
                                "ngspice": ngspice_version, "record_code": record_code(fn)}
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

    #: The file that makes a directory a circuitsim result store.
    MARKER = "CIRCUITSIM-STORE"
    #: Names of record files: ``<64 hex digits>.npz``, ``.json``, ``.error.json``.
    RECORD = re.compile(r"^[0-9a-f]{64}(\.npz|\.json|\.error\.json)$")

    def __init__(self, directory: Path | str):
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            if not (self.dir / self.MARKER).exists():
                write_atomic(self.dir / self.MARKER, "circuitsim sweep result store: records "
                             "are <key>.npz/.json/.error.json\n")
        except OSError as exc:
            why = "not a directory" if self.dir.exists() else f"cannot create it: {exc.strerror}"
            raise OutputError(f"--store: {str(self.dir)!r}: {why}") from None

    @classmethod
    def check_is_store(cls, directory: Path, label: str) -> None:
        """Refuse (exit 2) a directory that circuitsim did not make as a result store."""
        if not (directory / cls.MARKER).exists():
            raise OutputError(f"{label}: {str(directory)!r} is not a circuitsim result store "
                              f"(no {cls.MARKER} file); nothing removed")

    def clear(self) -> int:
        """Delete the record files (nothing else), the marker last, the directory if then
        empty; returns how many records went."""
        records = [p for p in self.dir.iterdir() if self.RECORD.match(p.name)]
        for p in records:
            p.unlink(missing_ok=True)
        if not any(p for p in self.dir.iterdir() if p.name != self.MARKER):
            (self.dir / self.MARKER).unlink(missing_ok=True)
            self.dir.rmdir()
        return len({p.name.split(".")[0] for p in records})

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
                "record_code": record_code(fn),
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
