"""What the benchmark module does for one case outside its timed rounds.

``bench/bench_wordcount.py`` parametrises, calls and times; the rest is here: the text (loaded
one size at a time, with its reference count), whether a case is skipped (its estimate against
the memory available and the budgets), the warm-up, the untimed memory calls, the pilot calls
that set the rounds, the instructions (``--instructions``) and the reads each size is put beside.
What is saved of a case is :mod:`wcbench.record`'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import wordcount
from wcbench import record
from wcbench.ab import instructions
from wcbench.ab.instructions import Callgrind
from wcbench.ab.sides import AbError
from wcbench.estimate import (
    HEADROOM_BYTES,
    estimate_case,
    estimate_seconds,
    skip_reason,
    time_skip_reason,
)
from wcbench.matrix import (
    Case,
    Selection,
    pilot_calls,
    rounds_for,
    rounds_for_spread,
)
from wcbench.memory import MemoryFigures, measure_memory
from wcbench.units import format_bytes, format_size
from wcbench.warmup import ENGINES, no_threads_beside, warm_up
from wordcount.procmem import available_bytes

#: Untimed memory calls per case when they are quick (the median of each figure is kept)...
MEMORY_CALLS = 3
#: ...that is, when that many calls take less than this (seconds); otherwise one call.
MEMORY_BUDGET_SECONDS = 1.5


@dataclass
class Corpus:
    """The text under test, one size at a time (a big text is dropped before the next loads),
    and the one-time costs already paid (:meth:`warm_up`)."""

    selection: Selection
    #: Bytes a case may hold with its text (``--memory-limit``); None: what is available.
    memory_budget: int | None = None
    _size: int | None = None
    _text: bytes = b""
    _count: int = 0
    _warm: set = field(default_factory=set)

    @property
    def label(self) -> str:
        """What the text is called in the record: the flavour, or the file's name."""
        return self.selection.label

    @property
    def ascii_hint(self) -> bool:
        """Whether the text is ASCII, as far as is known (a file not yet read: assume not)."""
        if self._size is not None:
            return self._text.isascii()
        return self.selection.file is None and self.selection.corpus == "ascii"

    def loaded(self, size: int) -> bool:
        return self._size == size

    def text(self, size: int) -> bytes:
        if self._size != size:
            self._text, self._size = b"", None
            self._text = self.selection.text(size)
            self._size = size
            # The reference count: numpy kernel, serial (exact, and fast on any size).
            self._count = wordcount.count_words(self._text, kernel="numpy")
        return self._text

    def expected_count(self, size: int) -> int:
        self.text(size)
        return self._count

    def warm_up(self, case: Case) -> None:
        """:func:`wcbench.warmup.warm_up`, once per executor and start method; an engine's
        before every case (cheap once warm): a fork-based case in between closes the
        interpreter pool (a child forked beside subinterpreters crashes) and, before it forks,
        the Dask cluster (:func:`wcbench.warmup.no_threads_beside`)."""
        if case.start_method == "fork":
            no_threads_beside()
        key = (case.executor, case.start_method)
        if key not in self._warm or case.executor in ENGINES:
            warm_up(case)
            self._warm.add(key)


def count_instructions(case: Case, corpus: Corpus, callgrind: Callgrind) -> dict[str, object]:
    """The case's instructions (``--instructions``), as its record saves them: its calls counted
    alone under callgrind, in a process of their own running this checkout's ``wordcount`` on
    the same text (:func:`wcbench.ab.instructions.count_case`); none for a case that starts
    worker processes (its cost is in other processes)."""
    if instructions.refusal(case):
        return {}
    root = Path(wordcount.__file__).resolve().parents[1]
    try:
        calls = instructions.count_case(case, corpus.selection.text_path(case.size),
                                        callgrind=callgrind, root=root)
    except AbError as exc:
        raise RuntimeError(f"{case.name}: instructions: {exc}") from None
    return record.instruction_fields(calls, callgrind.version)


def reads_to_measure(cases: list[Case]) -> list[tuple[int, int]]:
    """(size, threads) of every read to measure: per size, one thread and each worker count its
    cases use. Worker processes count too: N processes read with N cores, so their limit is the
    N-thread read (and the report says so)."""
    return sorted({(c.size, n) for c in cases for n in (1, c.workers)})


def read_name(size: int, threads: int) -> str:
    """``memory-read-32MiB-t2``."""
    return f"memory-read-{format_size(size)}-t{threads}"


def case_skip_reason(case: Case, corpus: Corpus, time_budget: float | None) -> str | None:
    """Why ``case`` is not run: its estimated peak does not fit (the memory available, or the
    budget), or its estimated time exceeds the time budget; None when it runs."""
    estimate = estimate_case(case, ascii_text=corpus.ascii_hint)
    reason = skip_reason(estimate, available_bytes(), text_loaded=corpus.loaded(case.size),
                         budget=corpus.memory_budget)
    return reason or time_skip_reason(estimate_seconds(case), time_budget)


def read_skip_reason(size: int, corpus: Corpus) -> str | None:
    """Why a read of a text of ``size`` is not made: a text no case could hold is not loaded for
    it either (None when it is loaded already, or fits)."""
    if corpus.loaded(size):
        return None
    budget, available = corpus.memory_budget, available_bytes()
    if budget is not None and size > budget:
        return f"the text {format_size(size)} exceeds --memory-limit {format_bytes(budget)}"
    if size + HEADROOM_BYTES > available:
        return (f"the text {format_size(size)} + headroom exceeds available memory "
                f"{format_bytes(available)}")
    return None


def memory_calls(text: bytes, kwargs: dict) -> tuple[float, list[MemoryFigures]]:
    """Untimed memory calls: three when a call is quick, else one; and one call's duration.

    Single figures vary between identical calls (a sampled tree peak may miss short-lived
    workers, a pool may start one worker more), so where it is cheap the median of three calls
    is kept; a slow call (big text, ``split``) is made once.
    """
    calls: list[MemoryFigures] = []
    first = None
    while len(calls) < MEMORY_CALLS:
        started = time.perf_counter()
        calls.append(measure_memory(text, **kwargs))
        if first is None:
            first = time.perf_counter() - started
            if first * MEMORY_CALLS > MEMORY_BUDGET_SECONDS:
                break
    return first or 0.0, calls


def pilot(text: bytes, kwargs: dict, calls: int) -> list[float]:
    """``calls`` untimed calls just before the rounds, each timed alone: their spread sets the
    rounds (``wcbench.matrix.rounds_for_spread``), and they warm the case up."""
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        wordcount.count_words(text, **kwargs)
        seconds.append(time.perf_counter() - started)
    return seconds


def plan_rounds(text: bytes, kwargs: dict, seconds: float) -> tuple[int, int, list[float]]:
    """``(rounds, warmup_rounds, pilot seconds)`` of a case whose call took ``seconds``: as many
    rounds as its size and speed allow, fewer where its pilot calls agree (the pilot is then the
    warm-up)."""
    rounds, warmup = rounds_for(len(text), seconds)
    calls = pilot(text, kwargs, pilot_calls(seconds))
    if calls:
        rounds, warmup = rounds_for_spread(calls, rounds), 0
    return rounds, warmup, calls


def estimates(case: Case, text: bytes) -> tuple[int, float]:
    """The case's estimated peak (bytes) and time (seconds) at the text it counted."""
    return (estimate_case(case, len(text), ascii_text=text.isascii()).total_bytes,
            estimate_seconds(case, len(text)).seconds)
