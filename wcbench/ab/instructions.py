"""``wcbench ab --measure instructions``: each side's calls counted in callgrind's simulated CPU.

Time on a shared machine moves with everything else the machine does; the number of instructions
a call executes does not. Each side's worker runs under ``valgrind --tool=callgrind
--instr-atstart=no``: the interpreter starts, imports and loads the text uninstrumented, the
warm-up calls are not counted, and each measured call is counted alone, through callgrind's client
requests around it (``wcbench/ab/_callgrind``, a C extension built by ``make install`` beside the
worker: counters zeroed, instrumentation on, the call, instrumentation off, the counters dumped).
The count covers every thread of the side's process, and nothing else: no start-up, no import, no
pipe. Both sides run at once (the counts do not depend on the load), ``CALLS`` calls each, in one
process a side for the whole session, with ``PYTHONHASHSEED=0``.

The verdict of a case compares NEW's counts with BASE's: the ratio of the median counts, and its
range over every pair of calls (the lowest NEW count over the highest BASE count, to the highest
over the lowest). ``slower`` when the whole range lies above ``1 + threshold``, ``faster`` below
``1 / (1 + threshold)``, ``same`` inside both, else ``inconclusive`` (:func:`wcbench.ab.stats.
verdict`, as for time). The thresholds (:data:`THRESHOLDS`) come from A/A runs (docs/ab.md,
"Counting instructions").

Only code that runs in the side's own process is counted: a case that starts worker processes
is refused by name (:func:`refusal`). Where valgrind is missing, the side's Python cannot run
under it, or ``_callgrind`` was not built for that Python, the session cannot run (``AbError``,
exit status 2, one line).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from wcbench.ab.result import (
    INSTRUCTIONS,
    SIDES,
    TIME,
    WRONG_COUNT,
    CaseInstructions,
    CaseResult,
    Pair,
)
from wcbench.ab.sides import ROOT, WORKTREE, AbError, Checkout, Worker
from wcbench.ab.stats import SLOWER, count_interval, verdict
from wcbench.matrix import Case
from wcbench.record import SkippedCase
from wordcount.executors import PROCESS_EXECUTORS

#: The environment variable naming the valgrind to run (``--valgrind`` wins over it).
VALGRIND_ENV = "WCBENCH_VALGRIND"
#: Calls counted a side per case, after the warm-up (each takes about 0.3 s of valgrind's own
#: work besides the call: the translations it drops when instrumentation starts, and the dump).
CALLS = 3
#: Uncounted calls first: CPython (3.11+) specialises a function's bytecode once it has run
#: about 8 times, and until then each call runs other instructions. After one warm-up call the
#: threads case's first counted calls ran 0.3% more than its later ones (32 MiB; 0.7% at
#: 8 MiB); after 12, its calls were within 0.03% of each other.
WARMUP_CALLS = 12
#: Default threshold of each kind of case (fraction), from the widest A/A ranges measured
#: (docs/ab.md, "Counting instructions"): within 0.33% in one thread from 1 MiB up, within
#: 0.38% in two threads from 8 MiB up; 1% is more than 2.5 times either. Two threads at 1 MiB
#: (thread start, GIL hand-overs, join) spread wider, and are judged inconclusive.
THRESHOLDS: dict[str, float] = {"in-process": 0.01, "threads": 0.01}
#: Why a case that starts worker processes is not counted.
PROCESSES_REFUSED = ("instructions are counted in the side's own process only: this case's cost "
                     "is its worker processes' start-up and the copies sent to them (time it: "
                     "--measure time)")
#: valgrind's options: count nothing until the worker's client requests say so, every thread
#: of the process in one dump, no line-level detail (smaller dumps, read for their totals).
CALLGRIND_OPTIONS = ("--tool=callgrind", "--instr-atstart=no", "--dump-line=no", "-q")


@dataclass(frozen=True)
class Callgrind:
    """The valgrind found, and its version (``valgrind-3.19.0``)."""

    path: str
    version: str

    def prefix(self, out: Path) -> list[str]:
        """The command a side's interpreter runs under, dumping to ``out.<pid>.<n>``."""
        return [self.path, *CALLGRIND_OPTIONS, f"--callgrind-out-file={out}.%p"]

    def describe(self) -> dict[str, object]:
        """What a session's settings say of it."""
        return {"valgrind": self.path, "version": self.version,
                "options": list(CALLGRIND_OPTIONS)}


def find_valgrind(valgrind: str | None = None) -> Callgrind:
    """``valgrind`` (a name or path), else ``$WCBENCH_VALGRIND``, else ``valgrind`` on PATH;
    ``AbError`` (exit status 2) when there is none or it does not run."""
    name = valgrind or os.environ.get(VALGRIND_ENV) or "valgrind"
    found = shutil.which(name)
    if found is None:
        raise AbError(f"no valgrind at {name!r}: counting instructions needs valgrind's "
                      f"callgrind (apt-get install valgrind; {VALGRIND_ENV}, or wcbench ab's "
                      "--valgrind, names another)")
    try:
        done = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AbError(f"valgrind at {found} does not run: {exc}") from None
    version = done.stdout.strip()
    if done.returncode != 0 or not version.startswith("valgrind"):
        raise AbError(f"{found} is not a working valgrind (--version said "
                      f"{(version or done.stderr.strip() or '?').splitlines()[0]!r})")
    return Callgrind(found, version)


def refusal(case: Case) -> str | None:
    """Why this case's instructions are not counted (it starts worker processes), or None."""
    if case.executor in PROCESS_EXECUTORS or case.executor == "dask":
        return PROCESSES_REFUSED
    return None


def refusals(cases: list[Case], refused: list[Case], measures: Sequence[str]
             ) -> tuple[list[Case], list[SkippedCase]]:
    """The cases to run, and every refusal: an executor's (``refused``), and, where
    instructions are measured, each case that starts processes (:func:`refusal`: not run when
    measured by instructions alone, timed only beside time)."""
    skips = [SkippedCase(c.name, c.refusal) for c in refused]
    if INSTRUCTIONS in measures:
        uncounted = [c for c in cases if refusal(c)]
        timed = "timed only, not counted: " if TIME in measures else ""
        skips += [SkippedCase(c.name, f"{timed}{refusal(c)}") for c in uncounted]
        if TIME not in measures:
            cases = [c for c in cases if c not in uncounted]
    return cases, skips


@contextmanager
def dump_folder() -> Iterator[Path]:
    """A temporary folder for callgrind's dumps (each read and removed by its worker), removed
    with whatever valgrind wrote at exit."""
    with tempfile.TemporaryDirectory(prefix="wcbench-callgrind-") as folder:
        yield Path(folder) / "callgrind.out"


def start_worker(label: str, callgrind: Callgrind, python: str, checkout: Checkout,
                 out: Path) -> Worker:
    """A worker under callgrind (its start-up uninstrumented), not yet said hello to."""
    return Worker(label, python, checkout, prefix=callgrind.prefix(out),
                  env={"PYTHONHASHSEED": "0"})


def hello(worker: Worker, callgrind: Callgrind, python: str) -> dict:
    """Say hello under callgrind: ``AbError`` (exit status 2) naming what is missing when the
    Python cannot run under valgrind, has no ``_callgrind``, or is not under valgrind at all."""
    try:
        info = worker.start(callgrind=True)
    except AbError as exc:
        if "during 'hello'" in str(exc) or "did not answer 'hello'" in str(exc):
            raise AbError(f"{worker.label}'s Python ({python}) cannot run under valgrind "
                          f"({callgrind.path}): {exc}") from None
        raise
    answer = info.get("callgrind")
    if not isinstance(answer, Mapping) or not answer.get("built"):
        raise AbError(f"{worker.label}: no callgrind client requests for {python} "
                      "(wcbench/ab/_callgrind is built by make install, which needs valgrind's "
                      "headers, /usr/include/valgrind/callgrind.h; for another interpreter: "
                      "make install PYTHON=...)")
    if not answer.get("running_on_valgrind"):
        raise AbError(f"{worker.label}: {python} is not running under valgrind: the command "
                      f"given as valgrind ({callgrind.path}) ran it directly")
    return info


def _both(workers: Mapping[str, Worker], op: str, /, **args: object) -> dict[str, dict]:
    """The same request to both sides at once; both answers."""
    for side in SIDES:
        workers[side].send(op, **args)
    return {side: workers[side].receive(op) for side in SIDES}


class CountingSides:
    """Both sides under callgrind for a whole session: one process a side, started together
    when entered (the session cannot run, exit status 2, when they cannot), each case loaded,
    warmed up and counted in turn, both sides at once; closed, dumps removed, on exit."""

    def __init__(self, callgrind: Callgrind, pythons: Mapping[str, str],
                 checkouts: Mapping[str, Checkout]) -> None:
        self.callgrind, self.pythons, self.checkouts = callgrind, pythons, checkouts
        self.workers: dict[str, Worker] = {}
        self._folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> CountingSides:
        self._folder = tempfile.TemporaryDirectory(prefix="wcbench-callgrind-")
        self.out = Path(self._folder.name) / "callgrind.out"
        try:
            for side in SIDES:
                self.workers[side] = start_worker(side.upper(), self.callgrind,
                                                  self.pythons[side], self.checkouts[side],
                                                  self.out)
            for side in SIDES:
                hello(self.workers[side], self.callgrind, self.pythons[side])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers.values():
            worker.close()
        if self._folder is not None:
            self._folder.cleanup()

    def describe(self, calls: int, threshold: float | None) -> dict[str, object]:
        """How the session counts, for its settings: valgrind and its options, the calls, the
        threshold given (None: :data:`THRESHOLDS`), what the simulated CPU offers each side (it
        has no AVX-512: the AVX features numpy found, the native kernel's instruction set)."""
        cpu = {side: {k: v for k, v in self.workers[side].info["callgrind"].items()
                      if k in ("cpu_features", "native_isa")} for side in SIDES}
        return {**self.callgrind.describe(), "calls": calls, "warmup_calls": WARMUP_CALLS,
                "threshold": threshold, "thresholds": THRESHOLDS, "pythonhashseed": 0,
                "simulated_cpu": cpu}

    def count_calls(self, calls: int, expected: int) -> Pair[tuple[int, ...]]:
        """``calls`` counted calls a side; each must count ``expected`` words."""
        counts: dict[str, list[int]] = {side: [] for side in SIDES}
        for _ in range(calls):
            answers = _both(self.workers, "instructions", out=str(self.out))
            for side in SIDES:
                if answers[side]["count"] != expected:
                    raise AbError(f"{side.upper()} counted {answers[side]['count']} words under "
                                  f"callgrind, {expected} in its warm-up")
                counts[side].append(answers[side]["instructions"])
        return Pair(tuple(counts["base"]), tuple(counts["new"]))

    def run_case(self, case: Case, file: Path, judged: CaseResult, threshold: float | None,
                 calls: int = CALLS) -> CaseResult:
        """``judged`` (the case, timed or not yet) with its instructions counted and judged at
        ``threshold`` (None: its kind's, :data:`THRESHOLDS`); as it was when it counted wrong
        or starts processes (:func:`refusal`).

        Both sides load the text and count it ``WARMUP_CALLS`` times uninstrumented (the
        warm-up; the counts must agree, else the case is a wrong count), then ``calls`` counted
        calls each. A case not timed takes the instructions' verdict and threshold as its own.
        """
        if judged.verdict == WRONG_COUNT or refusal(case):
            return judged
        threshold = threshold or THRESHOLDS[judged.kind]
        timed = bool(judged.verdict)
        warm = _both(self.workers, "case", file=str(file), warmup=WARMUP_CALLS, **case.kwargs)
        counts = Pair(warm["base"]["count"], warm["new"]["count"])
        if not timed:
            judged = replace(judged, counts=counts, threshold=threshold, warmup_seconds=Pair(
                warm["base"]["seconds"], warm["new"]["seconds"]))
        if counts.base != counts.new:
            return replace(judged, verdict=WRONG_COUNT, regression=True, counts_differ=counts)
        counted = judge(self.count_calls(calls, counts.base), threshold)
        if not timed:
            judged = replace(judged, verdict=counted.verdict)
        return replace(judged, instructions=counted,
                       regression=judged.regression or counted.verdict == SLOWER)


def judge(calls: Pair[tuple[int, ...]], threshold: float) -> CaseInstructions:
    """The ratio of median counts, its range over every pair of calls, the verdict."""
    interval = count_interval(calls.base, calls.new)
    return CaseInstructions(calls, interval, threshold, verdict(interval, threshold))


def count_case(case: Case, file: Path, *, python: str = sys.executable,
               callgrind: Callgrind | None = None, calls: int = CALLS,
               root: Path | None = None) -> tuple[int, ...]:
    """The instructions of ``calls`` calls of one case in this checkout (``root``, default the
    one running), counted as ``wcbench ab --measure instructions`` counts a side: for the
    benchmark suite's ``--instructions``. ``AbError`` as for a session."""
    callgrind = callgrind or find_valgrind()
    reason = refusal(case)
    if reason:
        raise AbError(f"{case.name}: {reason}")
    checkout = Checkout(WORKTREE, root or ROOT, None)
    with dump_folder() as out:
        worker = start_worker("this checkout", callgrind, python, checkout, out)
        try:
            hello(worker, callgrind, python)
            expected = worker.request("case", file=str(file), warmup=WARMUP_CALLS,
                                      **case.kwargs)["count"]
            counts = []
            for _ in range(calls):
                answer = worker.request("instructions", out=str(out))
                if answer["count"] != expected:
                    raise AbError(f"{case.name} counted {answer['count']} words under "
                                  f"callgrind, {expected} in its warm-up")
                counts.append(answer["instructions"])
        finally:
            worker.close()
    return tuple(counts)
