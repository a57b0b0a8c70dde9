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

import numpy as np

from circuitsim.errors import NetlistError, SetupError, SimError
from circuitsim.netlist.deck import FORBIDDEN
from circuitsim.rundirs import new_run_dir
from circuitsim.spice.rawfile import read_raw
from circuitsim.spice.result import TranResult

MIN_VERSION = 42
FIX_HINT = (
    "install ngspice >= 42 built with KLU: on Debian 12 'apt-get install -t bookworm-backports "
    "ngspice libngspice0-dev' (make setup does this), on Ubuntu >= 24.04 'apt-get install ngspice'"
)


def ngspice_executable() -> str:
    exe = os.environ.get("CIRCUITSIM_NGSPICE") or shutil.which("ngspice")
    if not exe:
        raise SetupError(f"ngspice not found on PATH; {FIX_HINT}")
    return exe


@functools.cache
def ngspice_version() -> str:
    """The version string (e.g. ``"46"``) of a usable ngspice, or :class:`SetupError`."""
    exe = ngspice_executable()
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


#: The control block the runner appends to a deck (fixed text, never user input): run the
#: deck's analyses (its ``.meas`` lines are evaluated) and write the saved vectors as binary raw.
#: ``num_threads=1``: one ngspice per process is the parallelism; the stock spinit's 8 OpenMP
#: threads make a small BSIM4 deck 3x slower on 2 cores (58 ms instead of 19 ms, measured).
CONTROL = (".control", "set filetype=binary", "set num_threads=1", "run", "write out.raw",
           "quit", ".endc")

_MEAS_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*=\s*([-+0-9.eE]+|failed)\b", re.I)
_ERROR_RE = re.compile(
    r"^(error(?!: (measure|no such vector))[: ].*|.*\btimestep too small\b.*|"
    r".*\bsingular matrix\b.*|.*no convergence.*|"
    r".*\bunknown (subckt|model|device)\b.*|.*could not find a valid modelname.*)$",
    re.I | re.M,
)


#: Words every line matched by _ERROR_RE contains (lower case), to find candidates quickly.
_ERROR_WORDS = ("error", "timestep too small", "singular matrix", "no convergence", "unknown ",
                "could not find a valid modelname")
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


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")


def runnable(deck: str) -> str:
    """The deck as run: its own lines up to ``.end`` plus :data:`CONTROL`.

    Refused (:class:`NetlistError`, a user-input error): a ``.control`` block or a
    ``*ng_script`` title (both run commands, shell included; circuitsim appends its own fixed
    control block), control characters other than tab and newline (ngspice and Python treat
    some as line breaks, which would hide lines from these checks), a missing ``.end``."""
    deck = deck.replace("\r\n", "\n")
    bad = _CONTROL_CHARS.search(deck)
    if bad:
        line = deck.count("\n", 0, bad.start()) + 1
        raise NetlistError(f"deck line {line} holds control character {bad.group()!r}")
    lines = deck.rstrip().split("\n")
    found = FORBIDDEN.search(deck)
    if found:
        raise NetlistError(f"deck has a {found.group(1)!r} line; circuitsim runs only "
                           "self-contained plain decks (no .control, *ng_script, *# or include "
                           "lines: inline included files, run scripts with ngspice directly)")
    if lines[-1].strip().lower() != ".end":
        raise NetlistError("deck does not end with .end")
    return "\n".join([*lines[:-1], *CONTROL, ".end"]) + "\n"


def unrunnable(text: str) -> str:
    """The deck a :func:`runnable` text came from (its :data:`CONTROL` block removed)."""
    lines = text.rstrip().splitlines()
    n = len(CONTROL)
    if len(lines) > n and tuple(lines[-n - 1:-1]) == CONTROL:
        lines = [*lines[:-n - 1], lines[-1]]
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:
    """In the ngspice child: die with the process that started it (a killed pool worker must
    not leave ngspice running) and take Ctrl-C normally (workers ignore SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def run_batch(deck: str, timeout: float = 600.0, keep_dir: bool = False) -> TranResult:
    """Run ``deck`` with ``ngspice -b`` and return its waveforms and ``.meas`` values."""
    text = runnable(deck)  # refuse an unsafe deck before looking for ngspice
    exe = ngspice_executable()
    version = ngspice_version()
    run_dir = new_run_dir()
    deck_path, raw_path = run_dir / "deck.cir", run_dir / "out.raw"
    log_path = run_dir / "ngspice.log"
    deck_path.write_text(text)
    from circuitsim.spice import pool  # here: pool imports this module

    pool.report_running(run_dir, timeout)  # inside a worker: the parent can name the run dir
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [exe, "-b", str(deck_path)],
            cwd=run_dir, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        log = out.decode(errors="replace") if isinstance(out, bytes) else out
        log_path.write_text(log)
        raise SimError(f"ngspice exceeded its {timeout:g} s timeout (run dir kept: {run_dir})",
                       deck=deck, log=log, run_dir=run_dir) from None
    finally:
        pool.report_ran()
    wall = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    log_path.write_text(log)
    errors = log_errors(log)
    if proc.returncode != 0 or errors or not raw_path.exists():
        reason = errors[0] if errors else f"exit code {proc.returncode}"
        raise SimError(f"ngspice failed: {reason} (run dir kept: {run_dir})",
                       deck=deck, log=log, run_dir=run_dir)
    plots = read_raw(raw_path)
    vectors = plots[-1].vectors
    t = vectors.pop("time", np.zeros(0))
    signals = {k: np.real(v) for k, v in vectors.items()}
    if not keep_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return TranResult(np.real(t), signals, parse_meas(log, meas_names(deck)), version, wall, log,
                      run_dir if keep_dir else None)
