"""Saved benchmark runs as typed objects: the one reader of the JSON that ``make bench`` saves.

``make bench`` saves each run with pytest-benchmark's file storage,
``results/<machine id>/NNNN_<commit>_<date>.json``, one folder per machine and interpreter
(``Linux-CPython-3.11-64bit``, named by pytest-benchmark's own ``get_machine_id``). Everything
that reads runs back (``make compare``, ``make report``, ``wcbench summary``) goes
through this module, so a run is found, read and ordered one way everywhere::

    from wcbench import results

    run = results.latest_run("results")             # the newest saved run (rule below)
    run.cases                                       # matrix benchmarks, typed (record.MeasuredCase)
    run.cases[0].median, run.cases[0].peak_tree_bytes
    run.memory_read[(1 << 20, 2)].seconds           # the two-thread read of 1 MiB (wcbench.limits)
    run.read_match(run.cases[0]).describe()         # "97% of the limit (memory read, ...)"
    run.by_name["test_wordcount[numpy-serial-1MiB-w1]"].stats.rounds
    old = results.load_run(results.find_run("1", "results", machine=results.machine_id()))

**Which run is the latest.** Runs are ordered by when they were measured: the ``datetime``
pytest-benchmark writes into each file (a file without one sorts by its modification time),
ties broken by path, so by run number within one folder. The latest is the last readable one: a
file that cannot be read as a run (truncated, foreign JSON, a newer format) is named in one line
on stderr and skipped (:func:`readable_runs`); named explicitly, it is refused. Within one
machine folder this is also run-number order, since pytest-benchmark numbers runs as it saves
them; across folders (a GIL build beside a free-threaded one) numbers say nothing, times do.

Why not pytest-benchmark's ``FileStorage`` for reading: it creates the folder it is asked to read,
turns paths absolute and logs and skips a file it cannot read, where a run named by the user must
be refused by name, and a skipped one named in one line. Reading the JSON is the easy part; the
format is pytest-benchmark's.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_benchmark.utils import get_machine_id

from wcbench import record
from wcbench.limits import Match, MemoryRead, match
from wcbench.record import FORMAT_VERSION, OLDEST_FORMAT, MeasuredCase, SkippedCase
from wordcount import EXECUTORS, KERNELS, START_METHODS

#: How pytest-benchmark names a saved run: a four-digit run number first.
RUN_FILE = re.compile(r"^(\d{4})_.*\.json$")


class SavedRunError(Exception):
    """A run that cannot be found or read; each CLI prints it as one line and exits 2."""


def machine_id() -> str:
    """This interpreter's folder in the storage (``Linux-CPython-3.11-64bit``), as
    pytest-benchmark names it when it saves a run."""
    return get_machine_id()


# --- the model ---------------------------------------------------------------------------------


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Stats:
    """pytest-benchmark's statistics of one benchmark, in seconds per round.

    ``data`` holds every round's time only when the run was saved with
    ``--benchmark-save-data``; otherwise it is empty.
    """

    median: float
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    stddev: float | None = None
    iqr: float | None = None
    q1: float | None = None
    q3: float | None = None
    rounds: int | None = None
    iterations: int | None = None
    data: tuple[float, ...] = ()

    @classmethod
    def from_json(cls, stats: Mapping[str, Any]) -> Stats:
        return cls(median=float(stats["median"]),
                   **{k: _float(stats.get(k)) for k in ("mean", "min", "max", "stddev", "iqr",
                                                        "q1", "q3")},
                   rounds=_int(stats.get("rounds")), iterations=_int(stats.get("iterations")),
                   data=tuple(float(x) for x in stats.get("data") or ()))


@dataclass(frozen=True)
class Benchmark:
    """One saved benchmark of any kind: its name, group, statistics and ``extra_info``."""

    name: str
    group: str | None
    stats: Stats
    extra_info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """``wordcount`` (a matrix case), ``memory-read``, or None (e.g. the kernel benchmarks)."""
        return record.kind(self.extra_info)

    @property
    def median(self) -> float:
        return self.stats.median

    @classmethod
    def from_json(cls, bench: Mapping[str, Any]) -> Benchmark:
        """From one entry of a saved run's ``benchmarks`` (or the same shape built live)."""
        return cls(name=str(bench["name"]), group=bench.get("group"),
                   stats=Stats.from_json(bench["stats"]),
                   extra_info=dict(bench.get("extra_info") or {}))


@dataclass(frozen=True)
class MachineInfo:
    """pytest-benchmark's ``machine_info``: None where the file does not say."""

    node: str | None
    system: str | None
    release: str | None
    machine: str | None
    processor: str | None
    python_version: str | None
    python_implementation: str | None
    cpu_brand: str | None
    cpu_count: int | None
    #: What this suite adds (:func:`wcbench.record.machine_details`): memory, platform,
    #: executable.
    wordcount: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, info: Mapping[str, Any]) -> MachineInfo:
        cpu = info.get("cpu") or {}
        return cls(*(info.get(k) for k in ("node", "system", "release", "machine", "processor",
                                           "python_version", "python_implementation")),
                   cpu_brand=cpu.get("brand_raw"), cpu_count=_int(cpu.get("count")),
                   wordcount=dict(info.get(record.MACHINE) or {}))


@dataclass(frozen=True)
class CommitInfo:
    """pytest-benchmark's ``commit_info``: the commit measured, and whether it had changes."""

    id: str | None = None
    dirty: bool = False
    branch: str | None = None
    time: str | None = None

    @classmethod
    def from_json(cls, info: Mapping[str, Any]) -> CommitInfo:
        return cls(info.get("id"), bool(info.get("dirty")), info.get("branch"), info.get("time"))


@dataclass(frozen=True)
class SavedRun:
    """One saved run: where and when it ran, every benchmark, and the matrix cases typed."""

    path: Path
    machine: MachineInfo
    commit: CommitInfo
    #: pytest-benchmark's timestamp of the run, as saved (ISO 8601), "" when absent.
    datetime: str
    benchmarks: tuple[Benchmark, ...]
    skipped: tuple[SkippedCase, ...]
    #: The ``wordcount`` benchmarks, in the order saved.
    cases: tuple[MeasuredCase, ...]
    #: (text size, threads) -> the read of that text with that many threads, the limit of a
    #: case of that size with as many workers (:mod:`wcbench.limits`; an old run: numpy's
    #: one-thread sum, at (size, 1)).
    memory_read: dict[tuple[int, int], MemoryRead]
    #: The matrix that made it (its name, and the options given beside it), or None for a run
    #: saved before runs recorded it.
    matrix: record.MatrixUsed | None = None
    #: Why the run did not finish (:func:`wcbench.record.incomplete_fields`), or None for a run
    #: that did. Its benchmarks are those that finished, each complete.
    incomplete: Mapping[str, Any] | None = None
    #: The run format it was saved in (:data:`FORMAT_VERSION`).
    format_version: int = 1
    #: The commands ``wcbench measure`` measured (kind ``command``), in the order saved.
    commands: tuple[record.MeasuredCommand, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> SavedRun:
        """From a saved run's parsed JSON; ``KeyError``, ``TypeError`` or ``ValueError`` when
        malformed (:func:`load_run` turns them into :class:`SavedRunError`)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
            raise TypeError("no 'benchmarks' list")
        benchmarks = tuple(Benchmark.from_json(b) for b in data["benchmarks"])
        fields = record.RunFields.from_json(data)
        return cls(path=Path(path), machine=MachineInfo.from_json(data.get("machine_info") or {}),
                   commit=CommitInfo.from_json(data.get("commit_info") or {}),
                   datetime=str(data.get("datetime", "")), benchmarks=benchmarks,
                   skipped=fields.skipped,
                   cases=tuple(MeasuredCase.from_benchmark(b) for b in benchmarks
                               if b.kind == record.WORDCOUNT),
                   memory_read=record.reads_of(benchmarks), matrix=fields.matrix,
                   incomplete=fields.incomplete, format_version=fields.format_version,
                   commands=tuple(record.MeasuredCommand.from_benchmark(b) for b in benchmarks
                                  if b.kind == record.COMMAND))

    def read_match(self, case: MeasuredCase) -> Match | None:
        """The case beside its limit, the read of its size and worker count (None: the run has
        none)."""
        return match(self.memory_read, case)

    @property
    def incomplete_note(self) -> str | None:
        """One sentence on why the run is incomplete (None when it finished)."""
        return record.incomplete_note(self.incomplete, len(self.benchmarks))

    @property
    def number(self) -> int | None:
        """The run number pytest-benchmark gave it (``0003_...`` -> 3), None for another name."""
        match = RUN_FILE.match(self.path.name)
        return int(match.group(1)) if match else None

    @property
    def machine_id(self) -> str:
        """The storage folder it was saved in (``Linux-CPython-3.13-64bit``)."""
        return self.path.parent.name

    @property
    def by_name(self) -> dict[str, Benchmark]:
        """Every benchmark by its name (``test_wordcount[numpy-serial-1MiB-w1]``)."""
        return {b.name: b for b in self.benchmarks}

    @property
    def sections(self) -> list[tuple[int, str]]:
        """(text size, corpus) pairs of the matrix cases, ascending."""
        return sorted({(c.text_bytes, c.corpus) for c in self.cases})

    def at(self, size: int, corpus: str) -> list[MeasuredCase]:
        """The cases of one text size and corpus, in :func:`case_order`."""
        return sorted((c for c in self.cases if (c.text_bytes, c.corpus) == (size, corpus)),
                      key=case_order)

    def distinct(self, key: str) -> tuple:
        """The distinct values of one field of the matrix cases (``record.GIL_ENABLED``,
        ``record.PYTHON``, ... : :class:`MeasuredCase` has an attribute of each name), in order
        of appearance, leaving out cases that do not say; several when cases disagree."""
        values: list = []
        for case in self.cases:
            value = getattr(case, key)
            if value is not None and value not in values:
                values.append(value)
        return tuple(values)


# --- order -------------------------------------------------------------------------------------


def _rank(value: str | None, order: Sequence[str | None]) -> tuple[int, str]:
    return (order.index(value), "") if value in order else (len(order), str(value))


def kernel_order(kernel: str) -> tuple[int, str]:
    """Sort key: kernels as ``wordcount.KERNELS`` lists them, unknown ones after, by name."""
    return _rank(kernel, KERNELS)


def executor_order(executor: str) -> tuple[int, str]:
    """Sort key: executors as ``wordcount.EXECUTORS`` lists them, unknown ones after."""
    return _rank(executor, EXECUTORS)


def start_method_order(method: str | None) -> tuple[int, str]:
    """Sort key: no start method first, then as ``wordcount.START_METHODS`` lists them."""
    return _rank(method, (None, *START_METHODS))


def strategy_order(strategy: tuple[str, str, str | None]) -> tuple:
    """Sort key of a ``(kernel, executor, start_method)``: the order of tables and legends."""
    kernel, executor, start_method = strategy
    return (kernel_order(kernel), executor_order(executor), start_method_order(start_method))


def case_order(case: MeasuredCase) -> tuple:
    """Sort key of a case within one size: by strategy, then worker count."""
    return (*strategy_order(case.strategy), case.workers)


# --- finding and reading -----------------------------------------------------------------------


def load_run(path: str | Path) -> SavedRun:
    """Read one run saved by pytest-benchmark; :class:`SavedRunError` if it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SavedRunError(f"no saved run at {path}") from None
    except (OSError, ValueError) as exc:
        raise SavedRunError(f"{path} is not a saved pytest-benchmark run: {exc}") from None
    fmt = record.saved_format(data)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt > FORMAT_VERSION:
        raise SavedRunError(f"{path} is a run of format {fmt!r}, newer than this checkout reads "
                            f"({OLDEST_FORMAT} to {FORMAT_VERSION}): read it with the wcbench "
                            "that saved it")
    if fmt < OLDEST_FORMAT:
        raise SavedRunError(f"{path} is a run of format {fmt}, older than this checkout reads "
                            f"({OLDEST_FORMAT} to {FORMAT_VERSION})")
    try:
        return SavedRun.from_json(data, path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SavedRunError(f"{path} is not a saved pytest-benchmark run: {exc!r}") from None


def warn_skipped(error: SavedRunError) -> None:
    """The default of :func:`readable_runs`: one line on stderr naming the file and why."""
    print(f"warning: skipping {error}", file=sys.stderr)


def readable_runs(storage: str | Path, machine: str | None = None,
                  on_skip: Callable[[SavedRunError], None] = warn_skipped) -> list[Path]:
    """:func:`run_paths` without the files that cannot be read as runs (truncated, foreign, of a
    newer format), each reported to ``on_skip``: what "the latest run" chooses from. A run
    chosen by name (:func:`find_run`) is read, or refused, as it is."""
    readable = []
    for path in run_paths(storage, machine):
        try:
            load_run(path)
        except SavedRunError as exc:
            on_skip(exc)
        else:
            readable.append(path)
    return readable


def _measured_at(path: Path) -> tuple[float, str]:
    """The ordering key of the "latest" rule: the run's own ``datetime``, else the file's mtime."""
    try:
        stamp = json.loads(path.read_text()).get("datetime")
        return (datetime.fromisoformat(stamp).timestamp(), str(path))
    except (OSError, ValueError, TypeError, AttributeError):
        return (path.stat().st_mtime, str(path))


def run_paths(storage: str | Path, machine: str | None = None) -> list[Path]:
    """Saved runs in ``storage`` (only its ``machine`` folder when given), oldest first by the
    "latest" rule of this module's docstring."""
    pattern = f"{machine}/*.json" if machine else "*/*.json"
    paths = [p for p in Path(storage).glob(pattern) if RUN_FILE.match(p.name)]
    return sorted(paths, key=_measured_at)


def find_run(spec: str, storage: str | Path, machine: str | None = None) -> Path:
    """The run ``spec`` names: a file's path, a run number (``3``, ``0003``) or a unique part of
    a file name, looked up in ``machine``'s folder of ``storage`` (every folder when None; a
    number found in several folders then means this interpreter's, :func:`machine_id`)."""
    path = Path(spec)
    if path.is_file():
        return path
    runs = run_paths(storage, machine)
    if spec.strip().isdigit():
        found = [p for p in runs if p.name[:4] == f"{int(spec):04d}"]
        if len(found) > 1 and machine is None:
            found = [p for p in found if p.parent.name == machine_id()] or found
    else:
        found = [p for p in runs if spec and spec in p.name]
    if len(found) == 1:
        return found[0]
    where = Path(storage) / machine if machine else Path(storage)
    if found:
        raise SavedRunError(f"run {spec!r} is ambiguous in {where}: "
                            + ", ".join(map(str, found)) + "; give the path")
    known = ", ".join(p.name for p in runs[-5:]) or "none"
    raise SavedRunError(f"no saved run matches {spec!r} in {where} (give a file path, a run "
                        f"number or part of a file name; latest: {known})")


def latest_run(storage: str | Path, machine: str | None = None, *,
               with_cases: bool = False) -> SavedRun:
    """The latest saved run in ``storage`` (or its ``machine`` folder); with ``with_cases``, the
    latest that holds matrix benchmarks or measured commands (a run of
    ``bench/bench_kernels.py`` alone has neither)."""
    paths = readable_runs(storage, machine)
    where = Path(storage) / machine if machine else Path(storage)
    if not paths:
        raise SavedRunError(f"no saved run under {where}/: run `make bench` first")
    for path in reversed(paths):
        run = load_run(path)
        if run.cases or run.commands or not with_cases:
            return run
    raise SavedRunError(f"no saved run under {where}/ holds matrix benchmarks or measured "
                        "commands: run `make bench` or `wcbench measure`")
