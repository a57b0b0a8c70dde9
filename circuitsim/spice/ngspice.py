"""Find and check ngspice, and run a deck with ``ngspice -b`` (batch mode, binary raw file).

This is the only module with simulator side effects in this issue's scope. Every run gets its
own directory (removed on success, kept on failure and named in the :class:`SimError`).
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from circuitsim.errors import SetupError
from circuitsim.rundirs import failed_run, new_run_dir
from circuitsim.spice import pool
from circuitsim.spice.control import runnable
from circuitsim.spice.rawfile import read_raw
from circuitsim.spice.result import TranResult

if TYPE_CHECKING:
    from circuitsim.netlist.safety import ModelLibrary

MIN_VERSION = 42
FIX_HINT = (
    "install ngspice >= 42 built with KLU: on Debian 12 'apt-get install -t bookworm-backports "
    "ngspice libngspice0-dev' (make setup does this), on Ubuntu >= 24.04 'apt-get install ngspice'"
)


def ngspice_executable() -> str:
    """The ngspice to run: ``$CIRCUITSIM_NGSPICE`` if set, else ``ngspice`` on PATH."""
    chosen = os.environ.get("CIRCUITSIM_NGSPICE")
    if chosen:
        exe = shutil.which(chosen)
        if not exe:
            raise SetupError(f"CIRCUITSIM_NGSPICE={chosen!r} is not an executable; {FIX_HINT}")
        return exe
    exe = shutil.which("ngspice")
    if not exe:
        raise SetupError(f"ngspice not found on PATH; {FIX_HINT}")
    return exe


def ngspice_version() -> str:
    """The version string (e.g. ``"46"``) of a usable ngspice, or :class:`SetupError`."""
    return _version_of(ngspice_executable())


@functools.cache
def _version_of(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"cannot run {exe} --version: {exc}; {FIX_HINT}") from exc
    match = re.search(r"ngspice-(\d+)(\.\d+)?", out)
    if not match:
        raise SetupError(f"cannot read the ngspice version from {exe} --version; {FIX_HINT}")
    version = match.group(1) + (match.group(2) or "")
    if int(match.group(1)) < MIN_VERSION:
        raise SetupError(f"ngspice {version} at {exe} is too old (need >= {MIN_VERSION}); "
                         f"{FIX_HINT}")
    if "KLU" not in out:
        raise SetupError(f"ngspice {version} at {exe} was built without KLU; {FIX_HINT}")
    return version


_MEAS_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*=\s*([-+0-9.eE]+|failed)\b", re.I)
_ERROR_RE = re.compile(
    r"^(error(?!: (measure|no such vector))[: ].*|.*\btimestep too small\b.*|"
    r".*\bsingular matrix\b.*|.*no convergence.*|"
    r".*\bunknown (subckt|model|device)\b.*|.*could not find a valid modelname.*|"
    r".*\bfatal error\b.*|.*\bsimulation interrupted\b.*|.*\baborted\b.*|"
    r".*\bcan't find model\b.*|.*\bthere aren't any circuits loaded\b.*)$",
    re.I | re.M,
)


#: Words every line matched by _ERROR_RE contains (lower case), to find candidates quickly.
_ERROR_WORDS = ("error", "timestep too small", "singular matrix", "no convergence", "unknown ",
                "could not find a valid modelname", "interrupted", "aborted", "can't find model",
                "aren't any circuits")
_MEAS_WORDS = ("=", "failed")


def _lines_with(log: str, words: tuple[str, ...]) -> list[str] | None:
    """The ``\\n``-separated lines of ``log`` containing one of ``words`` (any case), in order;
    ``None`` for a non-ASCII log (whose lower-case form may not line up). A big deck's log is
    mostly its initial-solution listing: scanning it with C string searches instead of a
    per-line regex takes 0.3 s off a 128x128 crossbar run."""
    if not log.isascii():
        return None
    low = log.lower()
    starts = set()
    for word in words:
        pos = low.find(word)
        while pos >= 0:
            start = low.rfind("\n", 0, pos) + 1
            starts.add(start)
            end = low.find("\n", pos)
            pos = -1 if end < 0 else low.find(word, end)
    lines = []
    for start in sorted(starts):
        end = log.find("\n", start)
        lines.append(log[start:] if end < 0 else log[start:end])
    return lines


def log_errors(log: str) -> list[str]:
    """Lines of an ngspice log that mean the run failed (a failed ``.meas`` is not one)."""
    lines = _lines_with(log, _ERROR_WORDS)
    found = ([m.group(0) for m in _ERROR_RE.finditer(log)] if lines is None
             else [m.group(0) for line in lines if (m := _ERROR_RE.match(line))])
    # the echoed title ("Circuit: * ...") and .meas results ("error = 1e-3") are not errors
    return [f.strip() for f in found
            if not f.lstrip().lower().startswith("circuit:") and not _MEAS_RE.match(f)]


def parse_meas(log: str, names: set[str] | None = None) -> dict[str, float]:
    """``.meas`` results printed by ngspice (``name = value``); failed ones become NaN."""
    out: dict[str, float] = {}
    candidates = _lines_with(log, _MEAS_WORDS)
    text = log if candidates is None else "\n".join(candidates)
    for line in text.splitlines():
        failed = re.match(r"^\s*\.meas(?:ure)?\s+\w+\s+(\w+)\b.*\bfailed!", line, re.I)
        if failed:
            out.setdefault(failed.group(1).lower(), float("nan"))
            continue
        m = _MEAS_RE.match(line)
        if not m:
            continue
        key = m.group(1).lower()
        if names is not None and key not in names:
            continue
        out[key] = float("nan") if m.group(2).lower() == "failed" else float(m.group(2))
    return out


def meas_names(deck: str) -> set[str]:
    """Names declared by ``.meas``/``.measure`` lines of a deck."""
    found = re.findall(r"^\.meas(?:ure)?\s+\w+\s+([A-Za-z_]\w*)", deck, re.I | re.M)
    return {n.lower() for n in found}


def _die_with_parent() -> None:
    """In the ngspice child: die with the process that started it (a killed pool worker must
    not leave ngspice running) and take Ctrl-C normally (workers ignore SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def run_batch(deck: str, timeout: float = 600.0, keep_dir: bool = False,
              libraries: Sequence[ModelLibrary] = ()) -> TranResult:
    """Run ``deck`` with ``ngspice -b`` and return its waveforms and ``.meas`` values. The deck
    is checked (:func:`~circuitsim.spice.control.runnable`) before ngspice is looked for, so a
    refused deck is a user error even where ngspice is missing."""
    text = runnable(deck, libraries)
    exe = ngspice_executable()
    version = ngspice_version()
    run_dir = new_run_dir()
    deck_path, raw_path = run_dir / "deck.cir", run_dir / "out.raw"
    log_path = run_dir / "ngspice.log"
    deck_path.write_text(text)
    pool.report_running(run_dir, timeout)  # inside a worker: the parent can name the run dir
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [exe, "-b", str(deck_path)],
            cwd=run_dir, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
    except OSError as exc:  # the executable vanished or cannot start
        raise SetupError(f"cannot run {exe}: {exc.strerror}; {FIX_HINT}") from None
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        log = out.decode(errors="replace") if isinstance(out, bytes) else out
        log_path.write_text(log)
        raise failed_run(run_dir, f"ngspice exceeded its {timeout:g} s timeout", deck,
                         log) from None
    finally:
        pool.report_ran()
    wall = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    log_path.write_text(log)
    errors = log_errors(log)
    if proc.returncode != 0 or errors or not raw_path.exists():
        reason = errors[0] if errors else f"exit code {proc.returncode}"
        raise failed_run(run_dir, f"ngspice failed: {reason}", deck, log)
    plots = read_raw(raw_path)
    if plots[-1].plotname.lower().startswith("constant"):  # `write` with no analysis run
        raise failed_run(run_dir, "ngspice failed: no analysis results", deck, log)
    vectors = plots[-1].vectors
    t = vectors.pop("time", np.zeros(0))
    signals = {k: np.real(v) for k, v in vectors.items()}
    if not keep_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return TranResult(np.real(t), signals, parse_meas(log, meas_names(deck)), version, wall, log,
                      run_dir if keep_dir else None)
