"""Writing files a user owns: atomically, keeping what is theirs, refusing what is not a file.

- A regular file is replaced atomically: a temporary file in the same directory, written,
  ``fsync``-ed, renamed over the target, and the directory ``fsync``-ed; a failed write leaves
  the old file as it was and no temporary file behind.
- A symlink is followed: the file it points to is replaced, the link stays a link.
- Anything else that exists at the path (directory, device such as ``/dev/full``, FIFO,
  socket) is refused with :class:`OutputError` and left untouched.
- A replaced file keeps its permission bits; a new file gets ``0666`` minus the umask, like
  any program's output (``umask 077`` gives a private deck).

:func:`check_output` runs the same checks (and tries a temporary file in the directory) before
any work starts, so a bad ``-o``/``--plot`` path fails in a second, not after a simulation.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from circuitsim.errors import OutputError


def current_umask() -> int:
    """This process's umask, read without changing it where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _target(path: Path, label: str) -> tuple[Path, int | None]:
    """The file to replace (symlinks followed) and its permission bits, or ``None`` if new."""
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
    except FileNotFoundError:
        if not real.parent.is_dir():
            raise OutputError(f"{label}: directory {str(real.parent)!r} does not exist") from None
        return real, None
    except OSError as exc:
        raise OutputError(f"{label}: cannot use {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OutputError(f"{label}: {str(path)!r} is {kind}; refusing to replace it")
    return real, stat.S_IMODE(st.st_mode)


def _temp_beside(real: Path, label: str) -> tuple[int, str]:
    """A new temporary file in ``real``'s directory (where the rename will happen)."""
    try:
        return tempfile.mkstemp(prefix=f".{real.name}.", dir=real.parent)
    except OSError as exc:
        raise OutputError(f"{label}: cannot write in {str(real.parent)!r}: "
                          f"{exc.strerror}") from None


def check_output(path: Path | str, label: str = "output") -> Path:
    """Fail now (:class:`OutputError`, exit 2) if ``path`` could not be written atomically."""
    real, _ = _target(Path(path), label)
    fd, tmp = _temp_beside(real, label)
    os.close(fd)
    os.unlink(tmp)
    return Path(path)


def write_atomic(path: Path | str, data: str | bytes, label: str = "output") -> None:
    """Replace (or create) the file at ``path`` with ``data``, atomically (module docstring)."""
    real, mode = _target(Path(path), label)
    binary = data if isinstance(data, bytes) else data.encode()
    fd, tmp = _temp_beside(real, label)
    try:
        os.fchmod(fd, mode if mode is not None else 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(binary)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{label}: cannot write {str(path)!r}: {exc.strerror}") from None
        raise
    dir_fd = os.open(real.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def json_text(obj: Any) -> str:
    """``obj`` as strict JSON (indent 1, newline-terminated): NaN and ±inf become ``null``
    (e.g. the unbounded interval of a single seed), which ``json.dumps`` would write as
    ``NaN``/``Infinity``, names no JSON parser outside Python accepts."""
    def finite(x: Any) -> Any:
        if isinstance(x, float):
            return x if math.isfinite(x) else None
        if isinstance(x, dict):
            return {k: finite(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [finite(v) for v in x]
        return x
    return json.dumps(finite(obj), indent=1, allow_nan=False) + "\n"
