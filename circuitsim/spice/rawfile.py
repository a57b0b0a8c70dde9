"""Reader for ngspice raw files (binary or ASCII, real or complex), with no simulator needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from circuitsim.errors import SimError


@dataclass(frozen=True, slots=True)
class RawPlot:
    """One plot of a raw file: its name and its vectors (lower-case names → 1-D arrays)."""

    plotname: str
    vectors: dict[str, np.ndarray]


def read_raw(path: Path) -> list[RawPlot]:
    """Every plot of a raw file; an empty, truncated or malformed file is a :class:`SimError`."""
    data = Path(path).read_bytes()
    plots: list[RawPlot] = []
    pos = 0
    while data[pos:].strip():
        try:
            plot, pos = _read_plot(data, pos)
        except (ValueError, KeyError, IndexError, StopIteration) as exc:
            raise SimError(f"raw file {path} is truncated or malformed at byte {pos} "
                           f"({type(exc).__name__}: {exc})") from None
        plots.append(plot)
    if not plots:
        raise SimError(f"raw file {path} holds no plot")
    return plots


def _read_plot(data: bytes, pos: int) -> tuple[RawPlot, int]:
    header: dict[str, str] = {}
    names: list[str] = []
    while True:
        end = data.index(b"\n", pos)
        line = data[pos:end].decode("latin-1")
        pos = end + 1
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "variables":
            count = int(header["no. variables"])
            for _ in range(count):
                end = data.index(b"\n", pos)
                fields = data[pos:end].decode("latin-1").split()
                names.append(fields[1].lower())
                pos = end + 1
            continue
        if key in ("binary", "values"):
            break
        header[key] = value.strip()
    nvar, npts = int(header["no. variables"]), int(header["no. points"])
    is_complex = "complex" in header.get("flags", "").lower()
    if key == "binary":
        dtype = np.complex128 if is_complex else np.float64
        count = nvar * npts
        if pos + count * np.dtype(dtype).itemsize > len(data):
            raise ValueError(f"{npts} points of {nvar} vectors need more bytes than remain")
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=pos).reshape(npts, nvar)
        pos += count * np.dtype(dtype).itemsize
    else:
        arr, pos = _read_ascii(data, pos, nvar, npts, is_complex)
    vectors = {n: np.array(arr[:, i]) for i, n in enumerate(names)}
    return RawPlot(header.get("plotname", ""), vectors), pos


def _read_ascii(data: bytes, pos: int, nvar: int, npts: int, is_complex: bool):
    values = np.zeros((npts, nvar), dtype=np.complex128 if is_complex else np.float64)
    tokens_needed = npts * nvar
    text_tokens: list[str] = []
    while len(text_tokens) < tokens_needed + npts and pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        text_tokens += data[pos:end].decode("latin-1").split()
        pos = end + 1
    if len(text_tokens) < tokens_needed + npts:
        raise ValueError(f"{npts} points of {nvar} vectors need more values than remain")
    it = iter(text_tokens)
    for p in range(npts):
        next(it)  # point index
        for v in range(nvar):
            tok = next(it)
            if is_complex:
                re_, im_ = tok.split(",")
                values[p, v] = complex(float(re_), float(im_))
            else:
                values[p, v] = float(tok)
    return values, pos
