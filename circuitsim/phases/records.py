"""Result records: frozen dataclasses of named numpy arrays that round-trip through ``.npz``.

A record's fields are ``np.ndarray`` (stored read-only), ``float``, ``int``, ``bool`` or
``str``. :meth:`Record.to_arrays` gives a ``dict[str, np.ndarray]`` (scalars as 0-d arrays,
strings as unicode arrays) that ``np.savez`` stores without pickle; :meth:`Record.from_arrays`
rebuilds the record and names any missing, unknown or mistyped entry.
"""

from __future__ import annotations

import dataclasses
import io
import typing
from pathlib import Path
from typing import Any, Self

import numpy as np

from circuitsim.errors import SpecError

_SCALARS = {float: float, int: int, bool: bool, str: str}


class Record:
    """Mixin of the phase result dataclasses (``@dataclass(frozen=True, slots=True, eq=False)``)."""

    __slots__ = ()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arr = np.array(value)  # own copy, then freeze it
                arr.setflags(write=False)
                object.__setattr__(self, f.name, arr)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every field as a numpy array (0-d for scalars and strings)."""
        return {f.name: np.asarray(getattr(self, f.name))
                for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_arrays(cls, arrays: typing.Mapping[str, np.ndarray]) -> Self:
        """Rebuild from :meth:`to_arrays` output (or a loaded ``.npz``)."""
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(arrays) - set(names))
        if unknown:
            raise SpecError(f"{cls.__name__}: unknown entries {unknown}")
        kwargs: dict[str, Any] = {}
        for name in names:
            if name not in arrays:
                raise SpecError(f"{cls.__name__}.{name}: missing")
            value = np.asarray(arrays[name])
            tp = hints[name]
            if tp in _SCALARS:
                if value.ndim != 0:
                    raise SpecError(f"{cls.__name__}.{name}: expected a scalar, got shape "
                                    f"{value.shape}")
                kwargs[name] = _SCALARS[tp](value[()])
            else:
                kwargs[name] = value
        return cls(**kwargs)

    def save(self, path: Path | str) -> None:
        """Write the record to ``path`` as ``.npz`` (no pickle), atomically."""
        from circuitsim.io import write_atomic

        buf = io.BytesIO()
        np.savez(buf, **self.to_arrays())
        write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path | str) -> Self:
        """Read a record written by :meth:`save` (``allow_pickle=False``)."""
        # our own handle: np.load leaks the one it opens when the zip is unreadable
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            return cls.from_arrays({k: data[k] for k in data.files})
