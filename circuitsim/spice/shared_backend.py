"""The ``shared`` backend: libngspice in-process through PySpice, inside pool worker processes.

Every PySpice type stays in this module: callers get a :class:`TranResult` of numpy arrays whose
vector names are the ones ngspice's ``write`` puts in a raw file (so both backends agree:
``v(node)``, ``i(vsrc)``, lower case, ``time`` moved to ``.time``), ``.meas`` values parsed from
the captured output exactly like the batch backend, and the same :class:`SimError` on failure.

Only PySpice's library loading and callbacks are used; the deck is handed to ``ngSpice_Circ``
and ``run`` is sent with ``ngSpice_Command`` directly, because PySpice's ``load_circuit`` and
``run`` raise on any output line containing "error" (a failed ``.meas`` prints one) and copy the
deck line by line. Failure is judged from the log with the batch backend's rules.

Each worker sets ``num_threads=1``: the parallelism is one ngspice per worker process, and the
``num_threads=8`` of the stock spinit (OpenMP BSIM4 evaluation) makes a small 3T1C deck three
times slower on a 2-core machine (40 ms instead of 13 ms per ``ngspice -b`` run).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from circuitsim.errors import SetupError, SimError
from circuitsim.rundirs import failed_run, new_run_dir
from circuitsim.spice import pool
from circuitsim.spice.control import runnable
from circuitsim.spice.ngspice import (
    FIX_HINT,
    MIN_VERSION,
    log_errors,
    meas_names,
    parse_meas,
)
from circuitsim.spice.result import TranResult

if TYPE_CHECKING:
    from circuitsim.spice.options import SimOptions

#: ngspice vector types (``enum simvartype``) that get a ``v(...)``/``i(...)`` raw-file name.
_SV_VOLTAGE, _SV_CURRENT = 3, 4

#: Extra time a worker gets beyond the run's own timeout (start-up, transfer) before the
#: process-wide pool gives up on it; the run itself is held to ``options.timeout`` exactly.
_TASK_GRACE = 120.0


def raw_name(name: str, vtype: int) -> str:
    """The name ngspice's ``write`` gives a plot vector in a raw file, lower-cased like
    :func:`circuitsim.spice.rawfile.read_raw` (``b`` → ``v(b)``, ``v1#branch`` → ``i(v1)``)."""
    if vtype == _SV_CURRENT:
        base = name.split("#branch", 1)[0]
        name = base if base.lower().startswith("i(") else f"i({base})"
    elif vtype == _SV_VOLTAGE and not name.lower().startswith("v("):
        name = f"v({name})"
    return name.lower()


def _name_key(name: str) -> tuple[Any, ...]:
    """Sort key of ngspice's vector name order (``namecmp``: digit runs compare as numbers)."""
    return tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", name)))


def simulate_shared(deck: str, options: SimOptions) -> TranResult:
    """Run ``deck`` on libngspice: in this process if it is a pool worker, otherwise on an idle
    worker of the process-wide pool (thread-safe; raises :class:`SimError`)."""
    if pool.in_worker():
        return run_here(deck, options)
    return pool.call_shared(_run_task, (deck, options), timeout=options.timeout + _TASK_GRACE)


def _run_task(args: tuple[str, SimOptions]) -> TranResult:
    return run_here(*args)


def run_here(deck: str, options: SimOptions) -> TranResult:
    """Run ``deck`` on this worker's libngspice. Before the run the run directory holds
    ``deck.cir`` (what ``ngspice -b`` would run) and the parent is told about it, so a timeout
    or crash can still name it; ``ngspice.log`` is written while ngspice prints."""
    if not pool.in_worker():
        raise SimError("libngspice runs only inside circuitsim worker processes "
                       "(use simulate(), which hands the deck to one)", deck=deck)
    text = runnable(deck, options.libraries)
    eng = engine()
    with eng.lock:
        run_dir = new_run_dir()
        (run_dir / "deck.cir").write_text(text)
        pool.report_running(run_dir, options.timeout)
        cwd = os.getcwd()
        try:
            # in the run directory, as ``ngspice -b`` is: files a model writes there (BSIM4's
            # ``bsim4v5.out`` parameter warnings) stay out of the user's working directory
            os.chdir(run_dir)
            # line-buffered: a worker killed mid-run leaves the log complete up to that point
            with (run_dir / "ngspice.log").open("w", buffering=1) as log_file:
                rc, vectors, wall = eng.run(deck.rstrip().splitlines(), log_file)
        finally:
            os.chdir(cwd)
            pool.report_ran()
        log = eng.log()
    errors = log_errors(log)
    if rc != 0 or errors or vectors is None:
        reason = (errors[0] if errors else f"libngspice returned {rc}" if rc
                  else "no analysis results")
        raise failed_run(run_dir, f"ngspice failed: {reason}", deck, log)
    t = vectors.pop("time", np.zeros(0))
    if not options.keep_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return TranResult(t, vectors, parse_meas(log, meas_names(deck)), eng.version, wall, log,
                      run_dir if options.keep_dir else None)


def after_task() -> bool:
    """Called by the worker loop after each task: free the last circuit and its plots.
    Returns False when libngspice reported an unrecoverable error (the worker then exits)."""
    if _ENGINE is None:
        return True
    with _ENGINE.lock:
        _ENGINE.release()
        return not _ENGINE.broken


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> _Engine:
    """This worker's libngspice (created on first use; one per process)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


@functools.cache
def _shared_class() -> tuple[type, Any]:
    """PySpice's ``NgSpiceShared`` with its output callbacks routed to the engine, and its ffi.

    PySpice logs every ngspice stderr line at error level and warns "Unsupported Ngspice
    version 46" (its version table stops at 34; the API used here is unchanged): its loggers
    are silenced, the output is captured into the run's log instead."""
    quiet = logging.getLogger("PySpice")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    quiet.setLevel(logging.CRITICAL + 1)
    try:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except ImportError as exc:
        raise SetupError(f"PySpice is not installed ({exc}); pip install 'PySpice>=1.5', "
                         f"or use SimOptions(backend='batch')") from exc

    class Shared(NgSpiceShared):
        def __init__(self, sink: Any) -> None:
            self.sink = sink  # before PySpice's __init__: it already prints (banner, version)
            super().__init__(ngspice_id=0, send_data=False)

        def send_char(self, message: Any, ngspice_id: int) -> int:
            self.sink(message)
            return 0

        def send_stat(self, message: Any, ngspice_id: int) -> int:
            return 0

    return Shared, ffi


#: The message of a failed libngspice load in this process (at most one entry).
_LOAD_FAILURE: list[str] = []


class _Engine:
    """One libngspice: load a deck, run it, copy the current plot's vectors, free it."""

    def __init__(self) -> None:
        if _LOAD_FAILURE:  # PySpice cannot retry a failed load (its ffi.cdef would repeat)
            raise SetupError(_LOAD_FAILURE[0])
        shared_cls, self._ffi = _shared_class()
        self.lock = threading.RLock()
        self.broken = False
        self._loaded = False
        self._lines: list[str] = []
        self._file: Any = None
        cwd = os.getcwd()
        try:
            # start in an empty directory: ngspice runs a .spiceinit found in the working
            # directory, which the batch backend (started in its run directory) never sees
            with tempfile.TemporaryDirectory(prefix="circuitsim-init-") as empty:
                os.chdir(empty)
                try:
                    self._ng = shared_cls(self._output)
                finally:
                    os.chdir(cwd)
        except OSError as exc:  # dlopen: libngspice.so missing
            _LOAD_FAILURE.append(f"cannot load the ngspice shared library ({exc}); {FIX_HINT}")
            raise SetupError(_LOAD_FAILURE[0]) from exc
        self._lib = self._ng._ngspice_shared
        banner = self.log()
        match = re.search(r"ngspice-(\d+)(\.\d+)?", banner)
        if not match:
            raise SetupError(f"cannot read the version of the ngspice shared library; {FIX_HINT}")
        self.version = match.group(1) + (match.group(2) or "")
        if int(match.group(1)) < MIN_VERSION:
            raise SetupError(f"the ngspice shared library is version {self.version} "
                             f"(need >= {MIN_VERSION}); {FIX_HINT}")
        if "KLU" not in banner:
            raise SetupError(f"the ngspice shared library was built without KLU; {FIX_HINT}")
        self._command("set num_threads=1")

    def _output(self, message: Any) -> None:
        if isinstance(message, bytes):
            message = message.decode("latin-1")
        stream, _, text = message.partition(" ")
        if stream not in ("stdout", "stderr"):
            text = message
        self._lines.append(text)
        if self._file is not None:
            self._file.write(text + "\n")

    def log(self) -> str:
        """Everything ngspice printed since the last load, one line per message."""
        return "\n".join(self._lines)

    def _command(self, command: str) -> int:
        return int(self._lib.ngSpice_Command(command.encode()))

    def run(self, lines: list[str], log_file: Any) -> tuple[int, dict[str, np.ndarray] | None,
                                                            float]:
        """Load ``lines`` (a deck without ``.control``), run it; ``(rc, vectors, wall time)``,
        vectors ``None`` when there is no analysis plot. Output goes to the log and the file."""
        self.release()
        self._lines = []
        self._ng.clear_output()  # PySpice keeps its own copy of the output; keep it empty
        self._file = log_file
        start = time.perf_counter()
        try:
            rc = self._load(lines)
            self._loaded = True
            log_file.flush()
            if rc == 0:
                rc = self._command("run")
            vectors = self._vectors() if rc == 0 else None
        finally:
            self._file = None
        if rc != 0:
            self.broken = True
        return rc, vectors, time.perf_counter() - start

    def _load(self, lines: list[str]) -> int:
        """``ngSpice_Circ`` on one contiguous NUL-separated buffer (ngspice copies each line)."""
        data = "\0".join(lines).encode("utf-8", "replace") + b"\0"
        starts = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)[:-1] + 1
        buf = self._ffi.from_buffer(data)
        base = int(self._ffi.cast("uintptr_t", buf))
        pointers = np.zeros(len(starts) + 2, dtype=np.uintp)
        pointers[0] = base
        pointers[1:-1] = base + starts
        array = self._ffi.cast("char **", self._ffi.from_buffer(pointers))
        return int(self._lib.ngSpice_Circ(array))

    def _vectors(self) -> dict[str, np.ndarray] | None:
        ffi, lib = self._ffi, self._lib
        plot = ffi.string(lib.ngSpice_CurPlot()).decode()
        if not plot or plot.startswith("const"):
            return None
        names = lib.ngSpice_AllVecs(plot.encode())
        found: list[tuple[str, np.ndarray]] = []
        i = 0
        while names[i] != ffi.NULL:
            name = ffi.string(names[i]).decode("latin-1")
            info = lib.ngGet_Vec_Info(f"{plot}.{name}".encode("latin-1"))
            n = int(info.v_length)
            if n and info.v_realdata != ffi.NULL:
                data = np.frombuffer(ffi.buffer(info.v_realdata, 8 * n), dtype=np.float64)
            elif n and info.v_compdata != ffi.NULL:
                data = np.frombuffer(ffi.buffer(info.v_compdata, 16 * n), dtype=np.complex128).real
            else:
                data = np.zeros(0)
            found.append((name, raw_name(name, int(info.v_type)), data.copy()))
            i += 1
        # like the raw file: scale first, then ngspice's name order, shorter vectors padded
        found.sort(key=lambda f: (f[1] != "time", _name_key(f[0])))
        length = max((len(v) for _, _, v in found), default=0)
        return {k: v if len(v) == length else np.pad(v, (0, length - len(v)))
                for _, k, v in found}

    def release(self) -> None:
        """Free the loaded circuit, its plots and ngspice's command history."""
        if not self._loaded:
            return
        keep, self._lines = self._lines, []
        self._command("destroy all")
        self._command("remcirc")
        self._lib.ngSpice_Command(self._ffi.NULL)
        self._lines = keep
        self._loaded = False
