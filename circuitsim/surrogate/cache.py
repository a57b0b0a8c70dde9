"""Content-addressed surrogate cache: ``<kind>-<key>.npz`` + ``<kind>-<key>.json``, no pickle.

The key is the SHA-256 of the canonical JSON of the kind, the hash of its dataset (the
characterization spec, which holds the sweep ranges, seeds and circuit templates, the ngspice
version and the fingerprint of the code that simulates and assembles the dataset) and the
fingerprint of the kind's fit code (:mod:`circuitsim.fingerprint`), so a surrogate is reused
exactly when the same code would fit it from the same simulations, and an edit anywhere else
(training, plots, another kind, any docstring) keeps it.

The ``.npz`` holds the surrogate's arrays (``allow_pickle=False`` on load); the JSON sidecar
holds the provenance (key material, spec, versions, host, timings), the dataset summary, the
fit report (model comparison, residuals) and, once validated, the fidelity checks, plus the
SHA-256 and size of the ``.npz``. Both are written atomically (temporary file + rename), the
sidecar last, under an exclusive ``flock`` on ``<kind>-<key>.lock``: two processes building
the same entry serialize (the second finds the first's entry and uses it), and a reader never
sees a sidecar that names a different ``.npz``. An entry whose ``.npz`` is missing, truncated,
has another hash or does not rebuild is reported on stderr, deleted and rebuilt, never used.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim._version import __version__
from circuitsim.errors import CacheError, SpecError
from circuitsim.fingerprint import ROOT, dataset_code, fit_code
from circuitsim.io import write_atomic
from circuitsim.store import canonical
from circuitsim.surrogate.kinds import get_kind

#: Environment variable naming the cache directory.
CACHE_ENV = "CIRCUITSIM_CACHE"
#: The file that makes a directory a circuitsim surrogate cache (written with its first
#: entry); :meth:`SurrogateCache.clear` refuses a directory without it.
MARKER = "CIRCUITSIM-CACHE"
#: Names of the files of an entry: ``<kind>-<24 hex digits of its key>.{json,npz,lock}``.
ENTRY_FILE = re.compile(r"^([a-z][a-z0-9_]*)-([0-9a-f]{24})\.(json|npz|lock)$")


def default_dir() -> Path:
    """``$CIRCUITSIM_CACHE``, else ``$XDG_CACHE_HOME/circuitsim/surrogates``, else
    ``~/.cache/circuitsim/surrogates``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "circuitsim" / "surrogates"


def key_material(kind: str, spec: Any, ngspice_version: str,
                 root: Path = ROOT) -> dict[str, Any]:
    """What a surrogate's key hashes (also stored in its sidecar): the dataset's hash (and
    what it hashes) and the fit code's fingerprint. ``root`` is the source tree the code
    fingerprints are taken over."""
    k = get_kind(kind)
    dataset = {"kind": kind, "spec": canonical(spec), "ngspice": ngspice_version,
               "code": dataset_code(k.char_code, root)}
    return {"kind": kind, "dataset": cache_key(dataset), "dataset_material": dataset,
            "fit_code": fit_code(k.fit_code, root)}


def cache_key(material: dict[str, Any]) -> str:
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached surrogate: its arrays (rebuilt by the caller's class) and its sidecar."""

    kind: str
    key: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    npz: Path
    sidecar: Path


class SurrogateCache:
    """A directory of cached surrogates (see the module docstring)."""

    def __init__(self, directory: Path | str | None = None):
        self.dir = Path(directory) if directory is not None else default_dir()

    def _ensure_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            marker = self.dir / MARKER
            if not marker.exists():
                write_atomic(marker, "circuitsim surrogate cache: entries are <kind>-<key>.json/"
                                     ".npz/.lock; 'circuitsim surrogate clear' removes only "
                                     "those\n")
        except OSError as exc:
            raise SpecError(f"--cache: cannot create {str(self.dir)!r}: {exc.strerror}") from None

    def paths(self, kind: str, key: str) -> tuple[Path, Path, Path]:
        stem = f"{kind}-{key[:24]}"
        return self.dir / f"{stem}.npz", self.dir / f"{stem}.json", self.dir / f"{stem}.lock"

    @contextlib.contextmanager
    def locked(self, kind: str, key: str) -> Iterator[None]:
        """Hold the entry's exclusive lock (blocks while another process holds it)."""
        self._ensure_dir()
        lock = self.paths(kind, key)[2]
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def read(self, kind: str, key: str) -> Entry | None:
        """The entry, ``None`` if there is none; :class:`CacheError` if it is corrupt."""
        npz, sidecar, _ = self.paths(kind, key)
        if not sidecar.exists():
            return None
        try:
            meta = json.loads(sidecar.read_text())
            blob = npz.read_bytes()
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CacheError(f"{kind} surrogate {key[:12]} unreadable: {exc}") from None
        if not isinstance(meta, dict):
            raise CacheError(f"{sidecar.name}: sidecar is not a JSON object")
        if meta.get("key") != key:
            raise CacheError(f"{sidecar.name}: sidecar is for key {str(meta.get('key'))[:12]}")
        if hashlib.sha256(blob).hexdigest() != meta.get("npz_sha256"):
            raise CacheError(f"{kind} surrogate {key[:12]}: {npz.name} ({len(blob)} bytes) does "
                             "not match its recorded hash (truncated or modified)")
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # noqa: BLE001 - a file np.load refuses is corrupt
            raise CacheError(f"{npz.name}: not a readable .npz ({exc})") from None
        return Entry(kind, key, arrays, meta, npz, sidecar)

    def write(self, kind: str, key: str, arrays: dict[str, np.ndarray],
              meta: dict[str, Any]) -> Entry:
        """Write an entry (caller holds :meth:`locked`); the sidecar goes last."""
        self._ensure_dir()
        npz, sidecar, _ = self.paths(kind, key)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        blob = buf.getvalue()
        write_atomic(npz, blob)
        full = {**meta, "key": key, "kind": kind, "npz": npz.name,
                "npz_sha256": hashlib.sha256(blob).hexdigest(), "npz_bytes": len(blob),
                "written": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": platform.node(),
                "python": platform.python_version(), "circuitsim": __version__}
        write_atomic(sidecar, json.dumps(full, indent=1, sort_keys=True) + "\n")
        return Entry(kind, key, arrays, full, npz, sidecar)

    def update_meta(self, entry: Entry, **fields: Any) -> Entry:
        """Add fields to an entry's sidecar (e.g. validation checks), atomically; refused if
        the entry was replaced (refitted) since ``entry`` was read."""
        with self.locked(entry.kind, entry.key):
            current = self.read(entry.kind, entry.key)
            if current is None:
                raise CacheError(f"{entry.kind} surrogate {entry.key[:12]} vanished")
            if current.meta.get("npz_sha256") != entry.meta.get("npz_sha256"):
                raise CacheError(f"{entry.kind} surrogate {entry.key[:12]} was refitted "
                                 "meanwhile; its sidecar is left as it is")
            meta = {**current.meta, **fields}
            write_atomic(current.sidecar, json.dumps(meta, indent=1, sort_keys=True) + "\n")
            return Entry(entry.kind, entry.key, current.arrays, meta, current.npz,
                         current.sidecar)

    def discard(self, kind: str, key: str) -> None:
        npz, sidecar, _ = self.paths(kind, key)
        sidecar.unlink(missing_ok=True)  # sidecar first: an entry exists iff its sidecar does
        npz.unlink(missing_ok=True)

    def report_corrupt(self, exc: CacheError) -> None:
        print(f"circuitsim: cache: {exc}; rebuilding it", file=sys.stderr)

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Sidecars of the cached entries (newest first); unreadable ones are listed with an
        ``error`` field rather than skipped."""
        if not self.dir.is_dir():
            return []
        out = []
        for path in sorted(self.dir.glob(f"{kind or '*'}-*.json")):
            try:
                meta = json.loads(path.read_text())
                if not isinstance(meta, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                meta = {"kind": path.name.split("-")[0], "error": str(exc), "sidecar": path.name}
            meta.setdefault("sidecar", path.name)
            out.append(meta)
        return sorted(out, key=lambda m: str(m.get("written", "")), reverse=True)

    def _is_sidecar(self, path: Path, kind: str, short_key: str) -> bool:
        """Whether ``path`` is a sidecar circuitsim wrote for that entry."""
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            return False
        return (isinstance(meta, dict) and meta.get("kind") == kind
                and str(meta.get("key", "")).startswith(short_key))

    def clear(self, kind: str | None = None) -> list[str]:
        """Delete the entries circuitsim wrote (of ``kind``, or all) with their lock files,
        each under its lock (an entry being written is deleted after it is complete, never
        halfway), and return their names. Nothing else in the directory is touched: only
        files named like an entry, whose sidecar (if any) is circuitsim's for that entry. A
        directory without the :data:`MARKER` is refused (:class:`SpecError`)."""
        if not self.dir.is_dir():
            return []
        if not (self.dir / MARKER).exists():
            raise SpecError(f"--cache: {str(self.dir)!r} is not a circuitsim cache (no "
                            f"{MARKER} file); nothing removed")
        stems: dict[tuple[str, str], set[str]] = {}
        for path in self.dir.iterdir():
            m = ENTRY_FILE.match(path.name)
            if m and (kind is None or m.group(1) == kind) and path.is_file():
                stems.setdefault((m.group(1), m.group(2)), set()).add(m.group(3))
        removed = []
        for (entry_kind, short_key), exts in sorted(stems.items()):
            npz, sidecar, lock = self.paths(entry_kind, short_key)
            if "json" in exts and not self._is_sidecar(sidecar, entry_kind, short_key):
                continue  # a file that only looks like ours
            with self.locked(entry_kind, short_key):
                if sidecar.exists() or npz.exists():
                    removed.append(f"{entry_kind}-{short_key}")
                self.discard(entry_kind, short_key)
                lock.unlink(missing_ok=True)
        return removed
