"""Datasets for the training package: digits, MNIST (IDX files), MNIST-1D and a character corpus.

``load(name, ...)`` returns a frozen :class:`Dataset`. Every array is deterministic: the same
arguments give bitwise identical arrays, and no split depends on the training ``seed`` (it is
accepted and recorded only, so runs with different seeds see the same data).

Input scalings (float32 unless stated):

- ``digits``: sklearn ``load_digits`` (embedded, 1797 8x8 images, values 0..16); ``x = pixels / 16``
  in [0, 1], 64 features. Stratified split: per class, ``round(0.2 * n_class)`` samples drawn
  with ``np.random.default_rng(DIGITS_SPLIT_SEED)`` go to test (359 test / 1438 train).
- ``mnist``: the four IDX files in ``path`` (plain or ``.gz``); ``x = pixels / 255`` in [0, 1],
  flattened to rows*cols (784).
- ``fashion-mnist``: the same IDX layout and scaling, from ``path`` or (default) the directory
  of Debian's ``dataset-fashion-mnist`` package, :data:`FASHION_DIR` (60,000 / 10,000 images).
- ``mnist1d`` / ``mnist1d-seq``: ``mnist1d.data.make_dataset`` with the published default args
  (4000 train / 1000 test, 40 points). With ``mu``, ``sigma`` the scalar mean and std of all
  *training* values: ``z = (x - mu) / sigma``; sequence view ``x = z / 3`` shaped (N, 40, 1)
  (about 98.7 % of values in [-1, 1], no clipping); vector view
  ``x = clip(z / 3, -1, 1)`` shaped (N, 40) (+-3 sigma onto the signed DAC range [-1, 1],
  about 1.3 % clipped; the earlier [0, 1] map left the sigmoid MLP at 45 % instead of 60 %).
- ``text``: int64 char indices into ``vocab`` (sorted set of the corpus' chars); windows of
  ``seq_len`` with stride ``seq_len``, ``y`` = ``x`` shifted by one char; the first
  ``n - n // 10`` chars are train, the rest test.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import struct
import sys
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from importlib import metadata
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

import numpy as np

from circuitsim.errors import SetupError, SpecError
from circuitsim.io import write_atomic
from circuitsim.spec import require

NAMES = ("digits", "mnist", "fashion-mnist", "mnist1d", "mnist1d-seq", "text")
#: Where Debian's ``dataset-fashion-mnist`` package puts the Fashion-MNIST IDX files.
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
Kind = Literal["vector", "sequence", "text"]

#: Seed of the fixed stratified digits split (independent of the training seed).
DIGITS_SPLIT_SEED = 1234
DIGITS_TEST_FRACTION = 0.2
#: Default window length and corpus size of the ``text`` dataset.
TEXT_SEQ_LEN = 64
TEXT_MAX_CHARS = 400_000
#: Standard-library modules concatenated (in this order, missing ones skipped) for ``text``.
#: The first nine give ~0.81 M chars; the rest extend it past 1 M (a corpus cut shorter than
#: the first nine is unchanged by them).
TEXT_STDLIB_FILES = ("argparse.py", "dataclasses.py", "difflib.py", "inspect.py", "pydoc.py",
                     "subprocess.py", "tarfile.py", "textwrap.py", "typing.py", "_pydecimal.py",
                     "doctest.py", "turtle.py", "email/_header_value_parser.py",
                     "unittest/mock.py")
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CACHE_ENV = "CIRCUITSIM_CACHE"
_CACHE_FORMAT = 1

_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {(dt.kind, dt.itemsize): code for code, dt in _IDX_DTYPES.items()}


@dataclass(frozen=True, slots=True, eq=False)
class Dataset:
    """Train/test arrays of one dataset (read-only views) plus how they were made.

    ``kind`` "vector": x (N, D) float32 in [-1, 1], y (N,) int64; "sequence": x (N, T, F) float32,
    y (N,) int64; "text": x (N, T) int64 char indices, y (N, T) int64 next-char indices.
    """

    name: str
    kind: Kind
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    vocab: str = ""
    source: str = ""
    scaling: str = ""

    def __post_init__(self) -> None:
        require(self.kind in ("vector", "sequence", "text"), "kind", self.kind,
                "must be 'vector', 'sequence' or 'text'")
        require(self.n_classes >= 1, "n_classes", self.n_classes, "must be >= 1")
        x_dtype, x_ndim = {"vector": (np.float32, 2), "sequence": (np.float32, 3),
                           "text": (np.int64, 2)}[self.kind]
        y_ndim = 2 if self.kind == "text" else 1
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            require(isinstance(x, np.ndarray) and x.dtype == x_dtype and x.ndim == x_ndim,
                    f"x_{part}", _describe_array(x),
                    f"must be a {x_ndim}-D {np.dtype(x_dtype).name} array")
            require(isinstance(y, np.ndarray) and y.dtype == np.int64 and y.ndim == y_ndim,
                    f"y_{part}", _describe_array(y), f"must be a {y_ndim}-D int64 array")
            require(len(x) == len(y) and len(x) > 0, f"y_{part}", y.shape,
                    f"needs as many (> 0) rows as x_{part} {x.shape}")
            checked = ((f"y_{part}", y), (f"x_{part}", x)) if self.kind == "text" else (
                (f"y_{part}", y),)
            if self.kind == "vector":
                require(bool(x.min() >= -1) and bool(x.max() <= 1), f"x_{part}",
                        (float(x.min()), float(x.max())),
                        "vector inputs must lie in [-1, 1] (the DACs' range)")
            if self.kind == "text":
                require(y.shape == x.shape, f"y_{part}", y.shape, f"must match x_{part} {x.shape}")
            for name, arr in checked:
                require(int(arr.min()) >= 0 and int(arr.max()) < self.n_classes, name,
                        (int(arr.min()), int(arr.max())),
                        f"indices must lie in [0, n_classes={self.n_classes})")
            for name, arr in ((f"x_{part}", x), (f"y_{part}", y)):
                view = arr.view()
                view.setflags(write=False)
                object.__setattr__(self, name, view)
        require(self.x_train.shape[1:] == self.x_test.shape[1:], "x_test", self.x_test.shape,
                f"sample shape differs from x_train {self.x_train.shape}")
        if self.kind == "text":
            require(len(self.vocab) == self.n_classes, "vocab", len(self.vocab),
                    f"must hold n_classes={self.n_classes} chars")

    def describe(self) -> str:
        """One line: name, kind, sizes, sample shape, classes."""
        extra = f", vocab {len(self.vocab)} chars" if self.kind == "text" else ""
        return (f"{self.name} ({self.kind}): {len(self.x_train)} train / {len(self.x_test)} test, "
                f"x {tuple(self.x_train.shape[1:])} {self.x_train.dtype}, "
                f"{self.n_classes} classes{extra}; {self.scaling}")

    def info(self) -> dict[str, Any]:
        """JSON-able summary: shapes, sizes, ranges, source, scaling and a sha256 of the arrays."""
        h = hashlib.sha256()
        for f in ("x_train", "y_train", "x_test", "y_test"):
            arr = getattr(self, f)
            h.update(f"{f}{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        out: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "n_classes": self.n_classes,
            "n_train": len(self.x_train), "n_test": len(self.x_test),
            "x_shape": list(self.x_train.shape[1:]), "y_shape": list(self.y_train.shape[1:]),
            "x_dtype": str(self.x_train.dtype), "y_dtype": str(self.y_train.dtype),
            "x_min": float(self.x_train.min()), "x_max": float(self.x_train.max()),
            "source": self.source, "scaling": self.scaling, "sha256": h.hexdigest()}
        if self.kind == "text":
            out["vocab"] = self.vocab
        return out


def load(name: str, *, seed: int = 0, path: str | os.PathLike[str] | None = None,
         seq_len: int | None = None, max_chars: int | None = None,
         cache_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load dataset ``name`` (one of :data:`NAMES`).

    ``seed`` is validated and recorded only: no split depends on it. ``path``: directory of the
    MNIST IDX files (required for "mnist"; optional for "fashion-mnist"), or a UTF-8 text
    file for "text" (optional).
    ``seq_len`` (default 64) and ``max_chars`` (default 400 000) apply to "text" only.
    ``cache_dir``: cache root for "mnist1d" (files go to ``<root>/data/``; default
    ``$CIRCUITSIM_CACHE``, else ``$XDG_CACHE_HOME/circuitsim``, else ``~/.cache/circuitsim``);
    ignored by the other datasets.
    """
    require(isinstance(name, str) and name in NAMES, "name", name,
            f"unknown dataset (choose from {', '.join(NAMES)})")
    require(isinstance(seed, int | np.integer) and not isinstance(seed, bool), "seed", seed,
            "must be an int")
    if name != "text":
        for field, value in (("seq_len", seq_len), ("max_chars", max_chars)):
            require(value is None, field, value, "only used by the 'text' dataset")
    if name in ("digits", "mnist1d", "mnist1d-seq"):
        require(path is None, "path", path, f"not used by the {name!r} dataset")
    if name == "digits":
        return _load_digits()
    if name == "mnist":
        return _load_mnist(path)
    if name == "fashion-mnist":
        return _load_fashion(path)
    if name == "text":
        return _load_text(path, TEXT_SEQ_LEN if seq_len is None else seq_len,
                          TEXT_MAX_CHARS if max_chars is None else max_chars)
    return _load_mnist1d(sequence=name == "mnist1d-seq", cache_dir=cache_dir)


def batches(n: int, batch: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled index arrays covering ``range(n)`` once, ``batch`` at a time (last one partial)."""
    require(isinstance(n, int | np.integer) and n >= 0, "n", n, "must be an int >= 0")
    require(isinstance(batch, int | np.integer) and batch >= 1, "batch", batch,
            "must be an int >= 1")
    require(isinstance(rng, np.random.Generator), "rng", type(rng).__name__,
            "must be a numpy.random.Generator")
    perm = rng.permutation(int(n))
    return (perm[i:i + batch] for i in range(0, int(n), int(batch)))


# ---------------------------------------------------------------------------------------- IDX


def _idx_error(path: Path, why: str) -> SpecError:
    return SpecError(f"path={str(path)!r}: {why}")


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Parse an IDX file (``.gz`` decompressed) strictly; any defect raises a one-line SpecError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise _idx_error(p, f"cannot read IDX file ({e.strerror or type(e).__name__})") from None
    if p.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise _idx_error(p, f"not a valid gzip file ({first})") from None
    if len(raw) < 4:
        raise _idx_error(p, f"truncated header: {len(raw)} bytes, an IDX header needs >= 4")
    if raw[0] != 0 or raw[1] != 0:
        raise _idx_error(p, f"bad magic 0x{raw[:4].hex()}: IDX files start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise _idx_error(p, f"unknown IDX data type code 0x{code:02x} (known: "
                            f"{', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)})")
    if ndim == 0:
        raise _idx_error(p, "IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise _idx_error(p, f"truncated header: {ndim} dimensions need {header} bytes, "
                            f"file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    count = 1
    for d in dims:
        count *= d
    need, have = count * dtype.itemsize, len(raw) - header
    if have < need:
        raise _idx_error(p, f"truncated data: dims {dims} of {dtype.name} need {need} bytes, "
                            f"file has {have}")
    if have > need:
        raise _idx_error(p, f"{have - need} unexpected bytes after the data of dims {dims}")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: Any) -> None:
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64; 1..255 dims) as an IDX
    file, gzip-compressed (deterministically) if ``path`` ends in ``.gz``; atomic."""
    p = Path(path)
    arr = np.asarray(array)
    code = _IDX_CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    require(code is not None, "array.dtype", str(arr.dtype),
            "IDX holds uint8, int8, int16, int32, float32 or float64")
    require(1 <= arr.ndim <= 255, "array.ndim", arr.ndim, "IDX holds 1..255 dimensions")
    require(all(d < 2**32 for d in arr.shape), "array.shape", arr.shape,
            "IDX dimensions must be < 2**32")
    data = (bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
            + np.ascontiguousarray(arr, dtype=_IDX_DTYPES[code]).tobytes())
    if p.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    try:
        write_atomic(p, data)
    except OSError as e:
        raise _idx_error(p, f"cannot write IDX file ({e.strerror or type(e).__name__})") from None


# ---------------------------------------------------------------------------------- loaders


def _describe_array(a: Any) -> str:
    return f"{a.dtype}{a.shape}" if isinstance(a, np.ndarray) else type(a).__name__


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test = np.zeros(len(y), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[:round(DIGITS_TEST_FRACTION * len(idx))]] = True
    return Dataset("digits", "vector", x[~test], y[~test], x[test], y[test], 10,
                   source="sklearn.datasets.load_digits (1797 8x8 images); stratified 80/20 "
                          f"split, split seed {DIGITS_SPLIT_SEED}",
                   scaling="x = pixel / 16 in [0, 1]")


def _find_mnist_file(d: Path, base: str) -> Path:
    for cand in (d / base, d / f"{base}.gz"):
        if cand.is_file():
            return cand
    raise SpecError(f"path={str(d)!r}: missing {base} (or {base}.gz)")


def _load_mnist(path: str | os.PathLike[str] | None) -> Dataset:
    require(path is not None, "path", path, "the 'mnist' dataset needs path= the directory "
            f"holding {', '.join(MNIST_FILES)} (each optionally .gz)")
    d = Path(path)  # type: ignore[arg-type]
    require(d.is_dir(), "path", str(d), "not a directory (expected the MNIST IDX directory)")
    files = [_find_mnist_file(d, base) for base in MNIST_FILES]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for img_file, lab_file in (files[:2], files[2:]):
        img, lab = read_idx(img_file), read_idx(lab_file)
        if img.ndim != 3 or img.dtype != np.uint8 or len(img) == 0:
            raise _idx_error(img_file, f"expected 3-D uint8 images (N > 0, rows, cols), got "
                                       f"{img.dtype} {img.shape}")
        if parts and img.shape[1] * img.shape[2] != parts[0][0].shape[1]:
            raise _idx_error(img_file, f"image size {img.shape[1:]} differs from the training "
                                       f"images ({parts[0][0].shape[1]} pixels)")
        if lab.ndim != 1 or lab.dtype != np.uint8:
            raise _idx_error(lab_file, f"expected 1-D uint8 labels, got {lab.dtype} {lab.shape}")
        if len(img) != len(lab):
            raise _idx_error(lab_file, f"{len(lab)} labels for {len(img)} images in "
                                       f"{img_file.name}")
        if len(lab) and int(lab.max()) > 9:
            raise _idx_error(lab_file, f"label {int(lab.max())} outside 0..9")
        x = img.reshape(len(img), -1).astype(np.float32) / np.float32(255.0)
        parts.append((x, lab.astype(np.int64)))
    (xtr, ytr), (xte, yte) = parts
    return Dataset("mnist", "vector", xtr, ytr, xte, yte, 10,
                   source=f"IDX files {', '.join(f.name for f in files)} in {d}",
                   scaling="x = pixel / 255 in [0, 1], flattened")


def _load_fashion(path: str | os.PathLike[str] | None) -> Dataset:
    """Fashion-MNIST (same IDX layout as MNIST) from ``path`` or :data:`FASHION_DIR`."""
    d = Path(path) if path is not None else Path(FASHION_DIR)
    require(d.is_dir(), "path", str(d), "Fashion-MNIST IDX directory not found; install "
            "Debian's package (apt-get install dataset-fashion-mnist, done by "
            "scripts/setup.sh) or pass the directory of its four IDX files")
    ds = _load_mnist(d)
    return replace(ds, name="fashion-mnist")


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "circuitsim"


def _valid_mnist1d(arrays: dict[str, np.ndarray], key: str, seq: int) -> bool:
    try:
        x, y, xt, yt = (arrays[k] for k in ("x", "y", "x_test", "y_test"))
        ok = str(arrays["key"]) == key
    except KeyError:
        return False
    return (ok and all(a.dtype == np.float64 and a.ndim == 2 and a.shape[1] == seq
                       and np.isfinite(a).all() for a in (x, xt))
            and all(b.dtype == np.int64 and b.ndim == 1 and ((b >= 0) & (b < 10)).all()
                    for b in (y, yt))
            and len(x) == len(y) > 0 and len(xt) == len(yt) > 0)


def mnist1d_raw(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """The unscaled MNIST-1D arrays (x, y, x_test, y_test), generated once and cached as .npz
    under ``<cache root>/data/`` keyed by sha256(generation args + mnist1d version)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise SetupError(f"mnist1d is not installed ({e}); pip install mnist1d") from None
    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    version = _mnist1d_version()
    material = {"format": _CACHE_FORMAT, "generator": "mnist1d.data.make_dataset",
                "args": args, "mnist1d": version}
    key = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    file = _cache_root(cache_dir) / "data" / f"mnist1d-{key}.npz"
    seq = int(args["final_seq_length"])
    try:
        with np.load(file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if _valid_mnist1d(arrays, key, seq):
            return arrays
    except FileNotFoundError:
        pass
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        pass  # corrupt cache entry: regenerate and overwrite it
    py_state, np_state = random.getstate(), np.random.get_state()
    try:  # make_dataset seeds the global generators; restore them afterwards
        raw = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = {"x": np.asarray(raw["x"], np.float64), "y": np.asarray(raw["y"], np.int64),
              "x_test": np.asarray(raw["x_test"], np.float64),
              "y_test": np.asarray(raw["y_test"], np.int64), "key": np.array(key)}
    if not _valid_mnist1d(arrays, key, seq):
        raise SetupError(f"mnist1d {version} generated unexpected arrays "
                         f"{ {k: a.shape for k, a in arrays.items()} }")
    buf = BytesIO()
    np.savez(buf, **arrays)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, buf.getvalue())
    except OSError as e:
        warnings.warn(f"cannot cache MNIST-1D at {file}: {e}", stacklevel=2)
    return arrays


def _load_mnist1d(*, sequence: bool, cache_dir: str | os.PathLike[str] | None) -> Dataset:
    raw = mnist1d_raw(cache_dir)
    mu, sigma = float(raw["x"].mean()), float(raw["x"].std())
    src = (f"mnist1d.data.make_dataset default args (mnist1d {_mnist1d_version()}); "
           f"train mu={mu:.6g}, sigma={sigma:.6g}")

    def scale(x: np.ndarray) -> np.ndarray:
        z = (x - mu) / sigma
        if sequence:
            return (z / 3.0).astype(np.float32)[:, :, None]
        return np.clip(z / 3.0, -1.0, 1.0).astype(np.float32)

    scaling = ("x = z / 3, z = (x_raw - mu) / sigma (train scalar mean/std), shape (N, T, 1)"
               if sequence else
               "x = clip(z / 3, -1, 1), z = (x_raw - mu) / sigma (train scalar mean/std)")
    return Dataset("mnist1d-seq" if sequence else "mnist1d", "sequence" if sequence else "vector",
                   scale(raw["x"]), raw["y"], scale(raw["x_test"]), raw["y_test"], 10,
                   source=src, scaling=scaling)


def _mnist1d_version() -> str:
    try:
        return metadata.version("mnist1d")
    except metadata.PackageNotFoundError:
        return "unknown"


def _printable(text: str) -> str:
    return re.sub(r"[^\n -~]", "", text)


def _stdlib_corpus(max_chars: int) -> tuple[str, str]:
    root = Path(os.__file__).parent
    chunks, used, total = [], [], 0
    for name in TEXT_STDLIB_FILES:
        if total >= max_chars:
            break
        try:
            text = _printable((root / name).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        chunks.append(text + "\n")
        used.append(name)
        total += len(text) + 1
    if not used:
        raise SpecError(f"path=None: no standard-library sources ({', '.join(TEXT_STDLIB_FILES)}) "
                        f"found in {root}; pass path= a text file")
    src = (f"Python {sys.version_info.major}.{sys.version_info.minor} stdlib sources in {root}: "
           f"{', '.join(used)}")
    return "".join(chunks), src


def _windows(idx: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    n = (len(idx) - 1) // t
    return idx[:n * t].reshape(n, t).copy(), idx[1:n * t + 1].reshape(n, t).copy()


def _load_text(path: str | os.PathLike[str] | None, seq_len: int, max_chars: int) -> Dataset:
    for field, value, low in (("seq_len", seq_len, 2), ("max_chars", max_chars, 1)):
        require(isinstance(value, int | np.integer) and not isinstance(value, bool)
                and value >= low, field, value, f"must be an int >= {low}")
    if path is None:
        corpus, src = _stdlib_corpus(max_chars)
    else:
        p = Path(path)
        try:
            corpus = _printable(p.read_bytes().decode("utf-8"))
        except OSError as e:
            raise SpecError(f"path={str(p)!r}: cannot read text file "
                            f"({e.strerror or type(e).__name__})") from None
        except UnicodeDecodeError as e:
            raise SpecError(f"path={str(p)!r}: not UTF-8 text (invalid byte at offset "
                            f"{e.start})") from None
        src = f"text file {p}"
    corpus = corpus[:max_chars]
    n = len(corpus)
    require(n // 10 >= seq_len + 1, "max_chars", max_chars,
            f"corpus of {n} printable chars leaves {n // 10} test chars, fewer than "
            f"seq_len+1={seq_len + 1}")
    vocab = "".join(sorted(set(corpus)))
    lut = np.zeros(128, dtype=np.int64)
    lut[[ord(c) for c in vocab]] = np.arange(len(vocab))
    idx = lut[np.frombuffer(corpus.encode("ascii"), dtype=np.uint8)]
    split = n - n // 10
    xtr, ytr = _windows(idx[:split], int(seq_len))
    xte, yte = _windows(idx[split:], int(seq_len))
    return Dataset("text", "text", xtr, ytr, xte, yte, len(vocab), vocab=vocab,
                   source=f"{src}; {n} chars, printable ASCII + newline, last 10 % test",
                   scaling=f"char indices into vocab, windows seq_len={seq_len}, stride {seq_len}")

