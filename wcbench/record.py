"""A measured case's record: what the suite saves beside pytest-benchmark's own figures.

pytest-benchmark saves each benchmark's name, group and statistics; this suite adds fields of its
own, and this module is the one place that names them, writes them and reads them back, side by
side (as pyperf's ``Run`` and ``Benchmark`` own their JSON):

- a matrix case's ``extra_info`` (kind ``wordcount``): what ran, on what text, on what
  interpreter, its four memory figures (:mod:`wcbench.memory`), what was estimated before it ran
  and its pilot calls, and its instructions where they were counted (``--instructions``);
  read back as :class:`MeasuredCase`;
- a memory read's ``extra_info`` (kind ``memory-read``): threads, cache or memory, the method and
  the read's own seconds; read back as :class:`wcbench.limits.MemoryRead`;
- the run's own fields (:class:`RunFields`): the format, why the run did not finish, the cases
  skipped (:class:`SkippedCase`) and the matrix that made it; and ``machine_info["wordcount"]``.

The benchmark module and the session plugin write through it; :mod:`wcbench.results`, the
comparisons and the report read through it. Key names are the saved format: never renamed.
"""

from __future__ import annotations

import math
import platform
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wcbench.limits import MemoryRead, Reads
from wcbench.machine import cpu_count, gil_enabled, total_memory_bytes
from wcbench.matrix import Case

if TYPE_CHECKING:
    from wcbench.memory import MemoryFigures
    from wcbench.results import Benchmark

# --- names --------------------------------------------------------------------------------------

#: What a benchmark is, and the kinds this suite saves (the kernel benchmarks have their own).
KIND, WORDCOUNT, MEMORY_READ = "kind", "wordcount", "memory-read"
KERNEL, EXECUTOR, START_METHOD, WORKERS = "kernel", "executor", "start_method", "workers"
TEXT_BYTES, CORPUS = "text_bytes", "corpus"
#: The interpreter and machine, on every benchmark (:func:`machine_fields`).
PYTHON, IMPLEMENTATION, GIL_ENABLED, CPU_COUNT = (
    "python", "implementation", "gil_enabled", "cpu_count")
PEAK_PARENT_BYTES, PEAK_WORKERS_BYTES = "peak_parent_bytes", "peak_workers_bytes"
PEAK_TREE_BYTES, COPIED_BYTES = "peak_tree_bytes", "copied_bytes"
#: The memory figures of a matrix case, in the order they are saved and printed.
MEMORY_KEYS: tuple[str, ...] = (PEAK_PARENT_BYTES, PEAK_WORKERS_BYTES, PEAK_TREE_BYTES,
                                COPIED_BYTES)
ESTIMATE_BYTES, ESTIMATE_SECONDS, PILOT_SECONDS = (
    "estimate_bytes", "estimate_seconds", "pilot_seconds")
#: A case's instructions (``pytest bench/bench_wordcount.py --instructions``): the median of
#: its counted calls, every call's count, and the valgrind that counted them.
INSTRUCTIONS, INSTRUCTION_CALLS, INSTRUCTIONS_TOOL = (
    "instructions", "instruction_calls", "instructions_tool")
THREADS, LEVEL, METHOD = "threads", "level", "method"
READ_SECONDS, READ_BEST_SECONDS, READ_ROUNDS, GB_PER_S = (
    "read_seconds", "read_best_seconds", "read_rounds", "gb_per_s")
#: ``machine_info["wordcount"]``: what a saved run's header adds to pytest-benchmark's.
MACHINE = "wordcount"
MEMORY_TOTAL_BYTES, PLATFORM, EXECUTABLE = "memory_total_bytes", "platform", "executable"
DEFAULT_START_METHOD = "default_start_method"
#: The run's own fields.
FORMAT, INCOMPLETE = "wordcount_format", "wordcount_incomplete"
SKIPPED, MATRIX = "wordcount_skipped", "wordcount_matrix"
#: Inside them: a skip, the matrix, why a run did not finish.
NAME, REASON, OPTIONS = "name", "reason", "options"
DETAIL, RUNNING, FINISHED = "detail", "running", "finished"
EXIT_STATUS, KERNEL_LOG, RECOVERED_FROM, PID = "exit_status", "kernel_log", "recovered_from", "pid"
#: The run format this suite writes and the oldest it reads. 1: every run saved before the field
#: existed; 2: adds ``wordcount_format`` and, for a run that did not finish,
#: ``wordcount_incomplete``. A newer format is refused by name, never guessed at.
FORMAT_VERSION = 2
OLDEST_FORMAT = 1


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


# --- the machine ----------------------------------------------------------------------------------


def machine_fields() -> dict[str, object]:
    """The interpreter and machine, saved with every benchmark (small, JSON-ready)."""
    return {PYTHON: platform.python_version(), IMPLEMENTATION: platform.python_implementation(),
            GIL_ENABLED: gil_enabled(), CPU_COUNT: cpu_count()}


def machine_details() -> dict[str, object]:
    """``machine_info["wordcount"]``: :func:`machine_fields` plus memory, platform, executable,
    and the start method multiprocessing uses when told none (``fork`` on Linux before 3.14,
    ``forkserver`` from 3.14).

    Only stable facts: pytest-benchmark warns when a compared run's machine info differs.
    """
    return {**machine_fields(), MEMORY_TOTAL_BYTES: total_memory_bytes(),
            PLATFORM: platform.platform(), EXECUTABLE: sys.executable,
            DEFAULT_START_METHOD: default_start_method()}


def default_start_method(details: Mapping[str, Any] | None = None) -> str:
    """The default start method: this interpreter's, or the one a saved run's details recorded
    (for a run saved before runs recorded it: CPython's rule on Linux, from its version)."""
    if details is None:
        import multiprocessing

        return multiprocessing.get_start_method(allow_none=True) or \
            multiprocessing.get_all_start_methods()[0]
    if details.get(DEFAULT_START_METHOD):
        return str(details[DEFAULT_START_METHOD])
    version = tuple(int(p) for p in str(details.get(PYTHON) or "0.0").split(".")[:2])
    return "forkserver" if version >= (3, 14) else "fork"


def memory_total(details: Mapping[str, Any]) -> int:
    """The machine's memory from ``machine_info["wordcount"]`` (0 when it does not say)."""
    return int(details.get(MEMORY_TOTAL_BYTES) or 0)


# --- a matrix case --------------------------------------------------------------------------------


def memory_fields(figures: MemoryFigures) -> dict[str, int]:
    """One memory call's four figures, under their saved names."""
    return {PEAK_PARENT_BYTES: figures.peak_parent_bytes,
            PEAK_WORKERS_BYTES: figures.peak_workers_bytes,
            PEAK_TREE_BYTES: figures.peak_tree_bytes, COPIED_BYTES: figures.copied_bytes}


def median_memory_fields(calls: Sequence[MemoryFigures]) -> dict[str, int]:
    """Each memory figure's median over several calls, under their saved names."""
    figures = [memory_fields(c) for c in calls]
    return {key: int(statistics.median(f[key] for f in figures)) for key in figures[0]}


def _text_fields(text_bytes: int, corpus: str) -> dict[str, object]:
    return {TEXT_BYTES: text_bytes, CORPUS: corpus, **machine_fields()}


def case_fields(case: Case, *, start_method: str | None, text_bytes: int, corpus: str,
                memory: Mapping[str, int], estimate_bytes: int, estimate_seconds: float,
                pilot_seconds: Sequence[float]) -> dict[str, object]:
    """A matrix case's ``extra_info``: ``start_method`` as the executor really used it."""
    return {KIND: WORDCOUNT, KERNEL: case.kernel, EXECUTOR: case.executor,
            START_METHOD: start_method, WORKERS: case.workers,
            **_text_fields(text_bytes, corpus), **memory, ESTIMATE_BYTES: estimate_bytes,
            ESTIMATE_SECONDS: estimate_seconds, PILOT_SECONDS: list(pilot_seconds)}


def instruction_fields(calls: Sequence[int], tool: str) -> dict[str, object]:
    """A case's instructions, added to its ``extra_info`` where they were counted: the median
    of the counted calls, each call's count, the valgrind that counted (``valgrind-3.19.0``)."""
    return {INSTRUCTIONS: int(statistics.median(calls)), INSTRUCTION_CALLS: list(calls),
            INSTRUCTIONS_TOOL: tool}


def instruction_calls(info: Mapping[str, Any]) -> list[int]:
    """Each counted call's instructions an ``extra_info`` holds (none where not counted)."""
    return [int(n) for n in info.get(INSTRUCTION_CALLS) or ()]


def memory_figures(info: Mapping[str, object]) -> dict[str, float]:
    """The memory figures an ``extra_info`` holds (missing ones left out)."""
    return {k: float(info[k]) for k in MEMORY_KEYS if info.get(k) is not None}  # type: ignore[arg-type]


@dataclass(frozen=True)
class MeasuredCase:
    """A matrix benchmark's saved figures: one strategy (kernel, executor, start method) counting
    ``text_bytes`` with ``workers``. Memory figures are None when the run did not record them.

    Not to be confused with :class:`wcbench.matrix.Case`, the case to run, before measurement.
    """

    name: str
    kernel: str
    executor: str
    start_method: str | None
    workers: int
    text_bytes: int
    corpus: str
    median: float
    peak_tree_bytes: int | None
    peak_parent_bytes: int | None
    peak_workers_bytes: int | None
    copied_bytes: int | None
    estimate_bytes: int | None
    #: The benchmark it was read from (statistics, every ``extra_info`` field).
    benchmark: Benchmark = field(repr=False, compare=False)
    #: The interpreter it ran on (None where the run did not say).
    python: str | None = field(default=None, repr=False, compare=False)
    implementation: str | None = field(default=None, repr=False, compare=False)
    gil_enabled: bool | None = field(default=None, repr=False, compare=False)
    cpu_count: int | None = field(default=None, repr=False, compare=False)
    #: The median instructions of a call, where counted (``--instructions``).
    instructions: int | None = field(default=None, repr=False, compare=False)

    @property
    def strategy(self) -> tuple[str, str, str | None]:
        """``(kernel, executor, start_method)``: what a line in a plot follows across sizes."""
        return (self.kernel, self.executor, self.start_method)

    @property
    def key(self) -> tuple:
        """What identifies the same benchmark in two runs (names may differ between builds)."""
        return (WORDCOUNT, self.corpus, self.text_bytes, *self.strategy, self.workers)

    @property
    def throughput(self) -> float:
        """Bytes of text per second (median)."""
        return self.text_bytes / self.median if self.median > 0 else math.inf

    @classmethod
    def from_benchmark(cls, bench: Benchmark) -> MeasuredCase:
        """From a saved matrix benchmark (its ``extra_info`` as :func:`case_fields` writes it)."""
        info = bench.extra_info
        return cls(name=bench.name, kernel=info[KERNEL], executor=info[EXECUTOR],
                   start_method=info.get(START_METHOD), workers=int(info[WORKERS]),
                   text_bytes=int(info[TEXT_BYTES]), corpus=str(info.get(CORPUS, "")),
                   median=bench.stats.median,
                   peak_tree_bytes=_int(info.get(PEAK_TREE_BYTES)),
                   peak_parent_bytes=_int(info.get(PEAK_PARENT_BYTES)),
                   peak_workers_bytes=_int(info.get(PEAK_WORKERS_BYTES)),
                   copied_bytes=_int(info.get(COPIED_BYTES)),
                   estimate_bytes=_int(info.get(ESTIMATE_BYTES)), benchmark=bench,
                   python=info.get(PYTHON), implementation=info.get(IMPLEMENTATION),
                   gil_enabled=info.get(GIL_ENABLED), cpu_count=info.get(CPU_COUNT),
                   instructions=_int(info.get(INSTRUCTIONS)))


def kind(info: Mapping[str, Any]) -> str | None:
    """``wordcount``, ``memory-read``, or None (e.g. the kernel benchmarks of an old run)."""
    return info.get(KIND)


def has_text(info: Mapping[str, Any]) -> bool:
    """Whether a benchmark says what text it counted (the matrix and its reads do)."""
    return TEXT_BYTES in info


# --- a memory read --------------------------------------------------------------------------------


def memory_read_fields(*, threads: int, level: str, method: str, seconds: float,
                       best_seconds: float, rounds: int, gb_per_s: float, text_bytes: int,
                       corpus: str) -> dict[str, object]:
    """A memory read's ``extra_info``: ``seconds`` its median round (in C, around the loads)."""
    return {KIND: MEMORY_READ, THREADS: threads, LEVEL: level, METHOD: method,
            READ_SECONDS: seconds, READ_BEST_SECONDS: best_seconds, READ_ROUNDS: rounds,
            GB_PER_S: gb_per_s, **_text_fields(text_bytes, corpus)}


def memory_read(median: float, info: Mapping[str, Any]) -> MemoryRead:
    """A saved memory read; an old one (no ``threads``: numpy's sum) as its one-thread read."""
    size = int(info[TEXT_BYTES])
    if THREADS not in info:
        return MemoryRead(size, 1, median, None, "numpy sum", legacy=True)
    return MemoryRead(size, int(info[THREADS]), float(info[READ_SECONDS]), info.get(LEVEL),
                      str(info[METHOD]))


def reads_of(benchmarks: Iterable[Benchmark]) -> Reads:
    """(text size, threads) -> the read, from a run's benchmarks."""
    return {(r.text_bytes, r.threads): r
            for r in (memory_read(b.median, b.extra_info)
                      for b in benchmarks if kind(b.extra_info) == MEMORY_READ)}


# --- the run's own fields -------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedCase:
    """A case not run: its executor refuses its kernel, or its estimate did not fit."""

    name: str | None
    reason: str | None

    def to_json(self) -> dict[str, str | None]:
        return {NAME: self.name, REASON: self.reason}

    @classmethod
    def from_json(cls, skip: Mapping[str, Any]) -> SkippedCase:
        return cls(skip.get(NAME), skip.get(REASON))


@dataclass(frozen=True)
class MatrixUsed:
    """The named matrix that made a run, and the options given beside it, as given."""

    name: str
    options: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {NAME: self.name, OPTIONS: dict(self.options)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatrixUsed:
        return cls(str(data.get(NAME, "?")), dict(data.get(OPTIONS) or {}))


def incomplete_fields(*, reason: str, detail: str, running: str | None,
                      finished: int) -> dict[str, object]:
    """Why a session stopped before it finished: the signal, the case running, how many had."""
    return {REASON: reason, DETAIL: detail, RUNNING: running, FINISHED: finished}


def ended_fields(reason: str, detail: str, *, exit_status: int | None,
                 kernel_log: str) -> dict[str, object]:
    """Why a killed session ended, as ``wcbench recover`` finds it, with its evidence."""
    return {REASON: reason, DETAIL: detail, EXIT_STATUS: exit_status, KERNEL_LOG: kernel_log}


def recovered_fields(ended: Mapping[str, object], *, running: str | None, finished: int,
                     journal: str, pid: int | None) -> dict[str, object]:
    """``wordcount_incomplete`` of a run saved from a journal (:func:`ended_fields` first)."""
    return {**ended, RUNNING: running, FINISHED: finished, RECOVERED_FROM: journal, PID: pid}


def incomplete_note(incomplete: Mapping[str, Any] | None, saved: int) -> str | None:
    """``incomplete: stopped by SIGTERM while test_x[...] ran; 9 benchmark(s) finished and
    saved``: what a report or comparison prints about a run that did not finish."""
    if not incomplete:
        return None
    how = incomplete.get(DETAIL) or incomplete.get(REASON) or "did not finish"
    running = incomplete.get(RUNNING)
    during = f" while {running} ran" if running else ""
    return f"incomplete: {how}{during}; {saved} benchmark(s) finished and saved"


@dataclass(frozen=True)
class RunFields:
    """What the suite adds to a saved run beside pytest-benchmark's own keys."""

    skipped: tuple[SkippedCase, ...] = ()
    #: None for a run saved before runs recorded it.
    matrix: MatrixUsed | None = None
    #: Why the run did not finish (:func:`incomplete_fields`), None when it did.
    incomplete: Mapping[str, Any] | None = None
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, object]:
        """The fields in the order a saved run holds them."""
        fields: dict[str, object] = {FORMAT: self.format_version}
        if self.incomplete:
            fields[INCOMPLETE] = dict(self.incomplete)
        fields[SKIPPED] = [s.to_json() for s in self.skipped]
        if self.matrix is not None:
            fields[MATRIX] = self.matrix.to_json()
        return fields

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunFields:
        matrix = data.get(MATRIX)
        return cls(skipped=tuple(SkippedCase.from_json(s) for s in data.get(SKIPPED) or ()),
                   matrix=MatrixUsed.from_json(matrix) if matrix else None,
                   incomplete=data.get(INCOMPLETE),
                   format_version=int(data.get(FORMAT, 1)))


def saved_format(data: object) -> object:
    """The format a saved run's JSON says it is in (1 when it does not say), unchecked."""
    return data.get(FORMAT, 1) if isinstance(data, Mapping) else 1


# --- a measured command and a benchmark's memory call (``wcbench measure``, the plugin) ---------

#: A command measured by ``wcbench measure`` (its benchmark's ``kind``).
COMMAND = "command"
ARGV, CWD, FAILED, FAILURE = "command", "cwd", "failed", "failure"
TIMED_RUNS, MEASURED_SECONDS, CPU_SECONDS = "timed_runs", "measured_seconds", "cpu_seconds"
RETURNED_BYTES, NOT_MEASURED = "returned_bytes", "copied_not_measured"
RETURNED_NOT_MEASURED = "returned_not_measured"
PROCESSES, EXACT_FIGURES = "processes", "exact_figures"


def tree_memory_fields(figures: Any, peak_parent_bytes: int | None) -> dict[str, object]:
    """A tree's memory figures (:class:`wcbench.measure.tree.TreeFigures`) under the saved names
    the suite's cases use, so that every comparison judges them alike: ``copied_bytes`` None and
    ``copied_not_measured`` saying why when the bytes pickled could not all be seen. The
    parent's peak is exact; the workers' too when each is a process of its own (a pool's or an
    executor's depend on how tasks were spread): ``exact_figures`` names them."""
    exact = [PEAK_PARENT_BYTES]
    if figures.workers and all(w.role == "process" for w in figures.workers):
        exact.append(PEAK_WORKERS_BYTES)
    return {PEAK_PARENT_BYTES: peak_parent_bytes,
            PEAK_WORKERS_BYTES: figures.peak_workers_bytes,
            PEAK_TREE_BYTES: figures.peak_tree_bytes, COPIED_BYTES: figures.copied_bytes,
            RETURNED_BYTES: figures.returned_bytes,
            NOT_MEASURED: list(figures.copied_not_measured),
            RETURNED_NOT_MEASURED: list(figures.returned_not_measured),
            EXACT_FIGURES: exact}


def command_fields(*, argv: Sequence[str], cwd: str, failure: str | None,
                   exit_status: int | None, figures: Any, timed_runs: int,
                   measured_seconds: float, cpu_seconds: float | None,
                   pilot_seconds: Sequence[float]) -> dict[str, object]:
    """A measured command's ``extra_info``: what ran, how it ended, its tree's figures (the main
    process's exact peak as the parent's) and every process."""
    main = figures.main
    python = main.report.python if main is not None and main.report is not None else None
    return {KIND: COMMAND, ARGV: list(argv), CWD: cwd, FAILED: failure is not None,
            FAILURE: failure, EXIT_STATUS: exit_status,
            **tree_memory_fields(figures, main.peak_rss_bytes if main is not None else None),
            TIMED_RUNS: timed_runs, MEASURED_SECONDS: measured_seconds,
            CPU_SECONDS: cpu_seconds, PILOT_SECONDS: list(pilot_seconds),
            PYTHON: python, CPU_COUNT: cpu_count(),
            PROCESSES: [p.to_json() for p in figures.processes]}


@dataclass(frozen=True)
class MeasuredCommand:
    """A saved command's figures (its ``extra_info`` as :func:`command_fields` writes it)."""

    name: str
    argv: tuple[str, ...]
    failed: bool
    failure: str | None
    median: float
    timed_runs: int
    cpu_seconds: float | None
    peak_tree_bytes: int | None
    peak_parent_bytes: int | None
    peak_workers_bytes: int | None
    copied_bytes: int | None
    returned_bytes: int | None
    not_measured: tuple[str, ...]
    processes: tuple[Mapping[str, Any], ...]
    benchmark: Benchmark = field(repr=False, compare=False)

    @classmethod
    def from_benchmark(cls, bench: Benchmark) -> MeasuredCommand:
        info = bench.extra_info
        return cls(name=bench.name, argv=tuple(info.get(ARGV) or ()),
                   failed=bool(info.get(FAILED)), failure=info.get(FAILURE),
                   median=bench.stats.median, timed_runs=int(info.get(TIMED_RUNS) or 0),
                   cpu_seconds=info.get(CPU_SECONDS),
                   peak_tree_bytes=_int(info.get(PEAK_TREE_BYTES)),
                   peak_parent_bytes=_int(info.get(PEAK_PARENT_BYTES)),
                   peak_workers_bytes=_int(info.get(PEAK_WORKERS_BYTES)),
                   copied_bytes=_int(info.get(COPIED_BYTES)),
                   returned_bytes=_int(info.get(RETURNED_BYTES)),
                   not_measured=tuple(info.get(NOT_MEASURED) or ()),
                   processes=tuple(info.get(PROCESSES) or ()), benchmark=bench)
