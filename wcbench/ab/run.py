"""``wcbench ab``: old and new code timed side by side in one session, judged with an interval.

Each side (BASE, NEW) is a checkout and an interpreter (``wcbench.ab.sides``). Per case, rounds
come in blocks of ``BLOCK_ROUNDS``, each block in a fresh process a side (an instance): a process
keeps its memory layout for life, and two processes of the same code differed by up to 5% in A/A
runs, more than rounds within one vary. In each instance, outside any timing, both sides load
the same text and count it once (the warm-up; the counts must agree; the first instance then
makes ``MEMORY_CALLS`` untimed calls with every probe on). Then rounds: in each, both sides time
one ``count_words`` call back to back, BASE first in even rounds and NEW first in odd ones
(A B B A ...), both starting on the same CPU (chosen at random per round), so whatever slows the
shared machine slows both. Each instance gives a ratio of medians; the case's ratio is the median
of those, with a bootstrap interval over instances (``wcbench.ab.stats``). Blocks go on, in
growing steps, until the 99% interval is decisive or the case's share of the time budget is
spent; the verdict reported is the 95% one.

With ``measures`` holding ``instructions`` (``--measure instructions``, or ``time,instructions``
for both), each case's calls are also, or instead, counted in callgrind's simulated CPU and
judged by the ratio of counts (:mod:`wcbench.ab.instructions`); cases that start worker
processes are refused there by name.

A regression is a case judged ``slower`` (its whole interval beyond the threshold), by time or
by instructions, a memory figure that grew past its limit, or NEW counting a different number of
words. Every round's times and every counted call, both sides' commits and interpreters are
saved under ``results/ab/``. Exit status: 0 no regression, 1 regression, 2 cannot run (one line
on stderr), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import wordcount
from wcbench import record
from wcbench.ab import instructions
from wcbench.ab.instructions import Callgrind
from wcbench.ab.result import (
    INSTRUCTIONS,
    MEASURES,
    SIDES,
    TIME,
    WRONG_COUNT,
    AbResult,
    CaseMemory,
    CaseResult,
    Incomplete,
    Machine,
    MemoryCall,
    MemoryFigure,
    Pair,
    Round,
    Settings,
    Side,
)
from wcbench.ab.sides import (
    ROOT,
    WORKTREE,
    AbError,
    Checkout,
    Worker,
    build_extensions,
    checkout,
    find_python,
)
from wcbench.ab.stats import (
    CONFIDENCE,
    INCONCLUSIVE,
    SLOWER,
    RatioInterval,
    ratio_interval,
    verdict,
)
from wcbench.ab.text import format_result
from wcbench.compare import rules
from wcbench.machine import cpu_count
from wcbench.matrix import Case, Selection, parse_sizes, parse_workers
from wcbench.record import SkippedCase
from wcbench.stopping import Stopped
from wcbench.storage import save_numbered
from wordcount.executors import INTERPRETER_EXECUTORS, PROCESS_EXECUTORS, START_METHODS

#: Default threshold of each kind of case (fraction): see the README, "A/B comparisons".
#: Per kind of case: A/A runs called every kind ``same`` at 10% (README, "A/B comparisons").
THRESHOLDS: dict[str, float] = {"in-process": 0.10, "threads": 0.10, "processes": 0.10}
#: Default time budget of the whole timing, shared out among the cases (seconds).
BUDGET_SECONDS = 200.0
#: Rounds come in blocks, each in a fresh pair of side processes (an instance): a process keeps
#: its memory layout for life, which moved one side's median by up to 5% in A/A runs, so the
#: interval must see several. At least MIN_BLOCKS before a first verdict, then steps of x1.5, at
#: most MAX_BLOCKS.
BLOCK_ROUNDS, MIN_BLOCKS, MAX_BLOCKS, BLOCK_STEP = 5, 6, 80, 1.5
MIN_ROUNDS, MAX_ROUNDS = BLOCK_ROUNDS * MIN_BLOCKS, BLOCK_ROUNDS * MAX_BLOCKS
#: Confidence an interim look needs to stop early: with several looks at 95% a case would stop
#: on a chance excursion too often (a real 15% slowdown called ``same`` after 20 rounds); the
#: verdict reported is still the 95% one, which a decisive 99% interval implies.
STOP_CONFIDENCE = 0.99
#: Untimed memory calls per side and case; the median of each figure is compared.
MEMORY_CALLS = 3
#: The memory figures both sides report (the sampled tree peak is not measured here); each is
#: judged by the rule set every comparison shares (:mod:`wcbench.compare.rules`).
MEMORY_KEYS = (record.COPIED_BYTES, record.PEAK_WORKERS_BYTES, record.PEAK_PARENT_BYTES)


@dataclass(frozen=True)
class SessionOptions:
    """How a session judges, besides its cases: the seconds of timing shared out among them,
    the threshold (None: each kind of case's own, :data:`THRESHOLDS`), the bootstrap seed; what
    it measures (:data:`~wcbench.ab.result.MEASURES`), and for instructions their threshold
    (None: :data:`wcbench.ab.instructions.THRESHOLDS`), the valgrind to run (None: ``$WCBENCH_
    VALGRIND`` or ``valgrind``) and the calls counted a side."""

    budget: float = BUDGET_SECONDS
    threshold: float | None = None
    seed: int = 0
    measures: tuple[str, ...] = (TIME,)
    instructions_threshold: float | None = None
    valgrind: str | None = None
    calls: int = instructions.CALLS

    def __post_init__(self) -> None:
        unknown = [m for m in self.measures if m not in MEASURES]
        if unknown or not self.measures:
            raise ValueError(f"--measure: {', '.join(unknown) or 'nothing'} given; one or both "
                             f"of {', '.join(MEASURES)}")
        if self.calls < 2:
            raise ValueError(f"--calls must be 2 or more, got {self.calls}")


def default_cases(executors: Sequence[str] = (), measures: Sequence[str] = (TIME,)
                  ) -> list[Case]:
    """One in-process case, one threads case, one process-start case per start method, and,
    when both sides have subinterpreters (``executors``), one case starting two of them (split:
    numpy is refused there). Measured by instructions alone, no process-start case."""
    cases = [Case("numpy", "serial", None, 32 << 20, 1),
             Case("numpy", "threads", None, 32 << 20, 2)]
    if TIME in measures:
        cases += [Case("numpy", "processes", m, 1 << 20, 1) for m in START_METHODS]
    if "interpreters" in executors:
        cases.append(Case("split", "interpreters", None, 1 << 20, 2))
    return cases


def case_kind(case: Case) -> str:
    """``processes`` when the case starts worker processes, ``threads`` when it runs two or more
    threads (subinterpreters each run in a thread of the caller), else ``in-process``."""
    if case.executor in PROCESS_EXECUTORS or case.executor == "dask":
        return "processes"
    threaded = case.executor in ("threads", *INTERPRETER_EXECUTORS)
    return "threads" if threaded and case.workers > 1 else "in-process"


def side_executors(pythons: dict[str, str], checkouts: dict[str, Checkout]) -> dict[str, dict]:
    """Each side's ``hello``: the executors its own interpreter and checkout have
    (``interpreters`` only on CPython 3.13+), and its Python version."""
    workers = start_sides(pythons, checkouts)
    close_sides(workers)
    return {side: workers[side].info for side in SIDES}


def choose_cases(selection: Selection, sides: dict[str, dict] | None = None,
                 measures: Sequence[str] = (TIME,)) -> tuple[list[Case], list[Case]]:
    """The cases of the lists given, else ``default_cases()`` (at the file's size when counting a
    file), among the executors both sides have (``sides``: each side's ``hello``; default: this
    interpreter's), and apart from them the pairs an executor refuses (``Case.refusal``), to be
    shown as such."""
    both = _both_executors(sides)
    if not selection.given:
        cases = default_cases(both, measures)
        if selection.file is not None:
            (size,) = selection.sizes_or(())
            cases = list({c.name: c for c in (Case(c.kernel, c.executor, c.start_method, size,
                                                   c.workers) for c in cases)}.values())
    else:
        for name in selection.executors:
            lacking = [s for s in SIDES if sides and name not in sides[s].get("executors", ())]
            if sides and lacking and len(lacking) < len(SIDES):
                raise AbError(f"executor {name!r} is not available to "
                              + " and ".join(f"{s.upper()} (Python {sides[s].get('python')})"
                                             for s in lacking)
                              + (" (interpreters needs CPython 3.13 or newer: PYTHON_BASE and "
                                 "PYTHON_NEW=.venv-python3.13/bin/python after make install "
                                 "PYTHON=python3.13)" if name in INTERPRETER_EXECUTORS else ""))
        cases = selection.cases(parse_sizes(""), parse_workers(""), available_executors=both)
    return [c for c in cases if not c.refusal], [c for c in cases if c.refusal]


def _both_executors(sides: dict[str, dict] | None) -> list[str]:
    """The executors every side has, in BASE's order; this interpreter's without sides."""
    if not sides:
        return list(wordcount.EXECUTORS)
    new = set(sides["new"].get("executors", ()))
    return [e for e in sides["base"].get("executors", ()) if e in new]


def _median_figures(calls: Sequence[MemoryCall]) -> dict[str, float]:
    return {key: statistics.median(c.figure(key) for c in calls) for key in MEMORY_KEYS}


def measure_memory(workers: dict[str, Worker], case: Case) -> CaseMemory | None:
    """``MEMORY_CALLS`` untimed probed calls per side (A B B A), medians judged per figure by
    :func:`wcbench.compare.rules.judge` (which figures are exact depends on the executor)."""
    answers: dict[str, list] = {s: [] for s in SIDES}
    for i in range(MEMORY_CALLS):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            answers[side].append(workers[side].request("memory")["memory"])
    if any(c is None for side in SIDES for c in answers[side]):
        return None  # a side whose package has no count_report: no memory figures
    calls = Pair(*(tuple(MemoryCall.from_json(c) for c in answers[side]) for side in SIDES))
    base, new = _median_figures(calls.base), _median_figures(calls.new)
    context = {record.EXECUTOR: case.executor, record.TEXT_BYTES: case.size}
    judged = {j.key: j for j in rules.judge({**base, **context}, {**new, **context})}
    figures = {key: MemoryFigure(base[key], new[key], judged[key].regression, judged[key].exact)
               for key in MEMORY_KEYS}
    return CaseMemory(figures, calls)


def start_sides(pythons: dict[str, str], checkouts: dict[str, Checkout]) -> dict[str, Worker]:
    """A fresh process a side (launched together), each checked to import its own checkout."""
    workers: dict[str, Worker] = {}
    try:
        for side in SIDES:
            workers[side] = Worker(side.upper(), pythons[side], checkouts[side])
        for side in SIDES:
            workers[side].start()
    except BaseException:
        close_sides(workers)
        raise
    return workers


def close_sides(workers: dict[str, Worker]) -> None:
    for worker in workers.values():
        worker.close()


def load_case(workers: dict[str, Worker], case: Case, file: Path) -> dict[str, dict]:
    """Both sides read the text and count it once, untimed (the warm-up)."""
    return {side: workers[side].request("case", file=str(file), **case.kwargs)
            for side in SIDES}


def time_block(workers: dict[str, Worker], instance: int, rng: random.Random) -> list[Round]:
    """``BLOCK_ROUNDS`` paired rounds: A B, then B A, both halves starting on one random CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    rounds = []
    for i in range(BLOCK_ROUNDS):
        order = SIDES if i % 2 == 0 else SIDES[::-1]
        cpu = rng.choice(cpus)
        times = {side: workers[side].request("time", n=1, cpu=cpu)["times"][0]
                 for side in order}
        rounds.append(Round(times["base"], times["new"], order[0], cpu, instance))
    return rounds


def judge(rounds: Sequence[Round], threshold: float, seed: int,
          confidence: float = CONFIDENCE) -> tuple[RatioInterval, str]:
    """The median of the instances' ratios of medians, its interval over instances, a verdict."""
    interval = ratio_interval([r.base for r in rounds], [r.new for r in rounds],
                              groups=[r.instance for r in rounds], seed=seed,
                              confidence=confidence)
    return interval, verdict(interval, threshold)


def _counts(warm: dict[str, dict], key: str) -> Pair:
    return Pair(warm["base"][key], warm["new"][key])


def run_case(case: Case, file: Path, start: Callable[[], dict[str, Worker]], budget: float,
             threshold: float, seed: int) -> CaseResult:
    """Blocks of rounds, each in fresh side processes, until decisive or ``budget`` is spent.

    The first instance also makes the memory calls. Every instance warms up first and must count
    what the first counted.
    """
    deadline = time.monotonic() + budget
    rng = random.Random(seed)
    judged = CaseResult(case.name, case_kind(case), case.kernel, case.executor, case.workers,
                        case.start_method, case.size, threshold, verdict="", regression=False)
    rounds: list[Round] = []
    processes: list[Pair[int]] = []  # each instance's process ids
    target = MIN_BLOCKS
    while True:
        instance = len(rounds) // BLOCK_ROUNDS
        workers = start()
        try:
            warm = load_case(workers, case, file)
            if instance == 0:
                judged = replace(judged, counts=_counts(warm, "count"),
                                 warmup_seconds=_counts(warm, "seconds"))
            assert judged.counts is not None
            if any(warm[s]["count"] != judged.counts.base for s in SIDES):
                return replace(judged, verdict=WRONG_COUNT, regression=True,
                               rounds=tuple(rounds), counts_differ=_counts(warm, "count"))
            if instance == 0:
                judged = replace(judged, memory=measure_memory(workers, case))
            rounds += time_block(workers, instance, rng)
            processes.append(Pair(workers["base"].info["pid"], workers["new"].info["pid"]))
        finally:
            close_sides(workers)
        blocks = instance + 1
        if blocks < target and (time.monotonic() < deadline or blocks < MIN_BLOCKS):
            continue
        interval, verdict_ = judge(rounds, threshold, seed)
        _, strict = judge(rounds, threshold, seed, STOP_CONFIDENCE)
        if time.monotonic() >= deadline or blocks >= MAX_BLOCKS or strict != INCONCLUSIVE:
            break
        target = min(MAX_BLOCKS, int(target * BLOCK_STEP))
    figures = judged.memory.figures if judged.memory is not None else {}
    grew = tuple(k for k, f in figures.items() if f.grew)
    return replace(judged, rounds=tuple(rounds), processes=tuple(processes), interval=interval,
                   verdict=verdict_, median=Pair(*(statistics.median(r[s] for r in rounds)
                                                   for s in SIDES)),
                   memory_grew=grew, regression=verdict_ == SLOWER or bool(grew))


def _side(co: Checkout, worker: Worker) -> Side:
    return Side(co.rev, co.commit, co.dirty, str(co.path), co.describe(), worker.info)


def run_session(cases: list[Case], selection: Selection, options: SessionOptions,
                checkouts: dict[str, Checkout], pythons: dict[str, str],
                callgrind: Callgrind | None = None) -> AbResult:
    """Start both sides, run every case within the budget, return the whole result.

    ``callgrind``: where instructions are measured, the valgrind that counts them; a case that
    starts processes is then timed only (or, measured by instructions alone, not run: the
    caller leaves it out)."""
    started, wall = time.monotonic(), datetime.now(UTC)
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        counting = (stack.enter_context(instructions.CountingSides(callgrind, pythons, checkouts))
                    if callgrind is not None else None)  # exit 2 early: they cannot run
        if counting is not None and TIME not in options.measures:
            first = counting.workers  # their hello says what each side is
        else:
            first = start_sides(pythons, checkouts)  # fails early (exit 2) on a side that
            close_sides(first)  # cannot run
        sides = Pair(_side(checkouts["base"], first["base"]),
                     _side(checkouts["new"], first["new"]))
        return _run_cases(cases, selection, options, checkouts, pythons, counting,
                          (started, wall, load_before), sides)


def _run_cases(cases: list[Case], selection: Selection, options: SessionOptions,
               checkouts: dict[str, Checkout], pythons: dict[str, str],
               counting: instructions.CountingSides | None, when: tuple[float, datetime, tuple],
               sides: Pair[Side]) -> AbResult:
    started, wall, load_before = when
    settings = _settings(options, selection.corpus_file or selection.corpus, counting)
    timed = TIME in options.measures
    results: list[CaseResult] = []
    incomplete = None
    try:
        for i, case in enumerate(cases):
            elapsed = time.monotonic() - started
            budget = max(options.budget - elapsed, 0.0) / (len(cases) - i)
            threshold = options.threshold or THRESHOLDS[case_kind(case)]
            file = selection.text_path(case.size)
            judged = (run_case(case, file, lambda: start_sides(pythons, checkouts), budget,
                               threshold, options.seed) if timed else _unjudged(case))
            if counting is not None:
                judged = counting.run_case(case, file, judged, options.instructions_threshold,
                                           options.calls)
            results.append(judged)
            counted = f"; instructions {judged.instructions.verdict}" \
                if judged.instructions and timed else ""
            print(f"  {case.name}: {judged.verdict}{counted}", file=sys.stderr, flush=True)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP as the CLI raises them
        # the case in progress was stopped by its own cleanup (sides closed); keep the others.
        # Stopped between two cases (just after one was judged), the next is named.
        running = cases[len(results)] if len(results) < len(cases) else case
        incomplete = Incomplete(signal.Signals(exc.signum).name
                                if isinstance(exc, Stopped) else "SIGINT",
                                running.name if running else None, len(results))
        exc.ab_partial = _session_result(  # type: ignore[attr-defined]
            started, wall, load_before, settings, sides, results, incomplete)
        raise
    return _session_result(started, wall, load_before, settings, sides, results, incomplete)


def _unjudged(case: Case) -> CaseResult:
    """A case before any measure judged it (its instructions will)."""
    return CaseResult(case.name, case_kind(case), case.kernel, case.executor, case.workers,
                      case.start_method, case.size, 0.0, verdict="", regression=False)


def _settings(options: SessionOptions, corpus: str,
              counting: instructions.CountingSides | None = None) -> Settings:
    counted = counting.describe(options.calls, options.instructions_threshold) \
        if counting is not None else None
    return Settings(budget_seconds=options.budget, threshold=options.threshold,
                    thresholds=THRESHOLDS, min_rounds=MIN_ROUNDS, block_rounds=BLOCK_ROUNDS,
                    stop_confidence=STOP_CONFIDENCE, max_rounds=MAX_ROUNDS,
                    memory_calls=MEMORY_CALLS, seed=options.seed,
                    memory_rules=rules.Rules().describe(), corpus=corpus,
                    measures=options.measures, instructions=counted)


def _session_result(started: float, wall: datetime, load_before: tuple, settings: Settings,
                    sides: Pair[Side], results: list[CaseResult],
                    incomplete: Incomplete | None) -> AbResult:
    """The saved comparison: settings, sides, the cases judged, and why it stopped early."""
    return AbResult(created=wall.isoformat(timespec="seconds"),
                    duration_seconds=round(time.monotonic() - started, 1),
                    machine=Machine(cpu_count(), load_before, os.getloadavg()),
                    settings=settings, sides=sides, cases=tuple(results),
                    regression=any(r.regression for r in results), incomplete=incomplete)


def save(result: AbResult, folder: Path) -> Path:
    """``results/ab/<UTC time>_<base>_<new>.json``; never overwrites."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result.created.replace(":", "").replace("-", "")[:15]

    def name(side: Side, label: str) -> str:
        rev = (side.commit or "")[:10] if side.rev != WORKTREE else WORKTREE
        return "".join(c if c.isalnum() else "-" for c in rev or label)

    stem = f"{stamp}_{name(result.sides.base, 'base')}_{name(result.sides.new, 'new')}"
    return save_numbered(folder, lambda n: f"{stem}.json" if n == 1 else f"{stem}_{n}.json",
                         (json.dumps(result.to_json(), indent=1) + "\n").encode(), start=1)


def _with_builds(result: AbResult, builds: dict[str, str],
                 refused: list[SkippedCase]) -> AbResult:
    """The result with how each side's extensions were built, and the cases refused."""
    return replace(result, sides=Pair(replace(result.sides.base, build=builds["base"]),
                                      replace(result.sides.new, build=builds["new"])),
                   refused=tuple(refused))


def compare_sides(selection: Selection, options: SessionOptions | None = None, *,
                  base: str | None = None,
                  new: str = WORKTREE, python_base: str = sys.executable,
                  python_new: str = sys.executable, repo: Path = ROOT,
                  output_dir: Path = ROOT / "results" / "ab") -> int:
    """Check the sides, run the session, print the table and the summary, save the JSON.

    ``base`` and ``new``: git revisions, or ``worktree`` (``base`` defaults to HEAD, or to the
    working tree when only the interpreters differ); the exit status: 0 no regression, 1 one.
    """
    options = options or SessionOptions()
    base_rev = base or ("HEAD" if python_base == python_new else WORKTREE)
    pythons = {"base": find_python(python_base, "PYTHON_BASE"),
               "new": find_python(python_new, "PYTHON_NEW")}
    callgrind = (instructions.find_valgrind(options.valgrind)
                 if INSTRUCTIONS in options.measures else None)
    checkouts: dict[str, Checkout] = {}
    stopped: KeyboardInterrupt | None = None
    try:
        checkouts["base"] = checkout(base_rev, repo.resolve())
        checkouts["new"] = checkout(new or WORKTREE, repo.resolve())
        cases, refused = choose_cases(selection, side_executors(pythons, checkouts),
                                      options.measures)
        cases, skips = instructions.refusals(cases, refused, options.measures)
        for skip in skips:
            print(f"  {skip.name}: refused: {skip.reason}", file=sys.stderr, flush=True)
        if not cases:
            raise AbError("no case to run: every case asked is refused (above)")
        builds = {side: build_extensions(checkouts[side], pythons[side])
                  if any(c.kernel == "native" for c in cases) else "not needed" for side in SIDES}
        try:
            result = run_session(cases, selection, options, checkouts, pythons, callgrind)
        except KeyboardInterrupt as exc:
            partial = getattr(exc, "ab_partial", None)
            if not partial or not partial.cases:
                raise
            result, stopped = partial, exc
        result = _with_builds(result, builds, skips)
    finally:
        for co in checkouts.values():
            co.remove()
    path = save(result, output_dir)
    print("\n".join(format_result(result, saved=str(path))))
    if stopped is not None:  # the CLI's one line says how it was stopped, and this
        running = result.incomplete.running if result.incomplete else None
        stopped.args = (f"{' '.join(map(str, stopped.args))} during {running}; the "
                        f"{len(result.cases)} finished case(s) saved in {path}".strip(),)
        raise stopped
    return 1 if result.regression else 0
