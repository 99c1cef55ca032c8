"""Time and memory of every strategy in the matrix (``wcbench.matrix``), grouped by text size.

Per case, outside any timing: the corpus is loaded (generated and cached on first use), the
memory estimate may skip the case, untimed calls with every probe on measure its memory
(``wcbench.memory.measure_memory``; the median of three calls where calls are quick) and check
the count; then pedantic rounds time ``count_words`` itself, worker start-up included, as a
user pays it. Beside each size's cases, the physical limit to compare them against: reading the
same bytes (``wordcount.bandwidth.read_limit``: the native extension streaming through the text,
vector loads, nothing written; numpy's sum only where the extension is not built) with each
thread count the size's cases use as workers, and always with one thread (``memory-read-32MiB-t2``).

Run through ``make bench`` (or ``pytest bench``, with the options in the root ``conftest.py``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import pytest

import wordcount
from wcbench import corpus as corpora
from wcbench.estimate import (
    HEADROOM_BYTES,
    estimate_case,
    estimate_seconds,
    skip_reason,
    time_skip_reason,
)
from wcbench.machine import machine_info
from wcbench.matrix import (
    Case,
    Selection,
    pilot_calls,
    rounds_for,
    rounds_for_spread,
    size_group,
)
from wcbench.memory import MemoryFigures, measure_memory
from wcbench.session import options
from wcbench.units import format_bytes
from wcbench.warmup import warm_up
from wordcount.bandwidth import last_level_cache, level_of, read_limit
from wordcount.procmem import available_bytes

#: Untimed memory calls per case when they are quick (the median of each figure is kept)...
MEMORY_CALLS = 3
#: ...that is, when that many calls take less than this (seconds); otherwise one call.
MEMORY_BUDGET_SECONDS = 1.5


@pytest.fixture(scope="session")
def time_budget(pytestconfig: pytest.Config) -> float | None:
    return options.time_budget(pytestconfig)


@dataclass
class Corpus:
    """The text under test, one size at a time (a big text is dropped before the next loads)."""

    selection: Selection
    memory_budget: int | None = None
    _size: int | None = None
    _text: bytes = b""
    _count: int = 0
    _warm: set = field(default_factory=set)

    @property
    def label(self) -> str:
        """``extra_info["corpus"]``: the flavour, or the file's name."""
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cases = options.chosen_cases(metafunc.config)
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", cases, ids=[c.name for c in cases])
    if "read_size" in metafunc.fixturenames:
        reads = reads_to_measure(cases)
        metafunc.parametrize("read_size,threads", reads,
                             ids=[f"memory-read-{corpora.format_size(s)}-t{t}" for s, t in reads])


def reads_to_measure(cases: list[Case]) -> list[tuple[int, int]]:
    """(size, threads) of every read to measure: per size, one thread and each worker count its
    cases use. Worker processes count too: N processes read with N cores, so their limit is the
    N-thread read (and the report says so)."""
    return sorted({(c.size, n) for c in cases for n in (1, c.workers)})


@pytest.fixture(scope="session")
def corpus(pytestconfig: pytest.Config) -> Corpus:
    return Corpus(options.selection(pytestconfig), options.memory_budget(pytestconfig))


def _measure(text: bytes, kwargs: dict) -> tuple[float, list[MemoryFigures]]:
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


def _pilot(text: bytes, kwargs: dict, calls: int) -> list[float]:
    """``calls`` untimed calls just before the rounds, each timed alone: their spread sets the
    rounds (``wcbench.matrix.rounds_for_spread``), and they warm the case up."""
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        wordcount.count_words(text, **kwargs)
        seconds.append(time.perf_counter() - started)
    return seconds


def _median_figures(calls: list[MemoryFigures]) -> dict[str, int]:
    """Each memory figure's median over the calls (``extra_info`` keys)."""
    figures = [c.as_extra_info() for c in calls]
    return {key: int(statistics.median(f[key] for f in figures)) for key in figures[0]}


def _common_info(corpus: Corpus, size: int) -> dict[str, object]:
    return {"text_bytes": size, "corpus": corpus.label, **machine_info()}


def test_wordcount(benchmark, case: Case, corpus: Corpus, wordcount_skips: list,
                   time_budget: float | None, request: pytest.FixtureRequest) -> None:
    benchmark.group = case.group
    if case.refusal:  # shown, with the executor's own reason, rather than left out
        wordcount_skips.append({"name": request.node.name, "reason": case.refusal})
        pytest.skip(f"{case.name}: refused: {case.refusal}")
    estimate = estimate_case(case, ascii_text=corpus.ascii_hint)
    reason = skip_reason(estimate, available_bytes(), text_loaded=corpus.loaded(case.size),
                         limit=corpus.memory_budget)
    reason = reason or time_skip_reason(estimate_seconds(case), time_budget)
    if reason:
        wordcount_skips.append({"name": request.node.name, "reason": reason})
        pytest.skip(f"{case.name}: {reason}")
    text = corpus.text(case.size)
    expected = corpus.expected_count(case.size)
    if (case.executor, case.start_method) not in corpus._warm:
        warm_up(case)
        corpus._warm.add((case.executor, case.start_method))
    kwargs = {"kernel": case.kernel, "executor": case.executor, "workers": case.workers,
              "start_method": case.start_method}

    seconds, memory = _measure(text, kwargs)
    assert all(f.count == expected for f in memory), f"{case.name} miscounted under probes"

    rounds, warmup = rounds_for(len(text), seconds)
    pilot = _pilot(text, kwargs, pilot_calls(seconds))
    if pilot:  # the pilot is the warm-up, and says how many rounds the spread needs
        rounds, warmup = rounds_for_spread(pilot, rounds), 0
    count = benchmark.pedantic(wordcount.count_words, args=(text,), kwargs=kwargs,
                               rounds=rounds, warmup_rounds=warmup, iterations=1)
    assert count == expected, f"{case.name} miscounted"
    benchmark.extra_info.update(
        kind="wordcount", kernel=case.kernel, executor=case.executor,
        start_method=memory[0].start_method, workers=case.workers,
        **_common_info(corpus, len(text)), **_median_figures(memory),
        estimate_bytes=estimate_case(case, len(text), ascii_text=text.isascii()).total_bytes,
        estimate_seconds=estimate_seconds(case, len(text)).seconds,
        pilot_seconds=pilot,
    )


def test_memory_read(benchmark, read_size: int, threads: int, corpus: Corpus,
                     wordcount_skips: list, request: pytest.FixtureRequest) -> None:
    """Reading the text once with ``threads`` threads: the limit of a count with as many workers.

    Each pytest round is one read (``read_limit(..., rounds=1)``); the figure saved is the read's
    own time, taken in C around the loads (threads started and waiting at a barrier first), so
    starting threads from Python is not charged to memory. Its median is the limit: a case's
    figure is its median too.
    """
    name = f"memory-read-{corpora.format_size(read_size)}-t{threads}"
    benchmark.group = size_group(read_size)
    if not corpus.loaded(read_size):  # a text no case could hold is not loaded for this either
        limit, available = corpus.memory_budget, available_bytes()
        reason = (f"the text {corpora.format_size(read_size)} exceeds --memory-limit "
                  f"{format_bytes(limit)}" if limit is not None and read_size > limit
                  else f"the text {corpora.format_size(read_size)} + headroom exceeds available "
                  f"memory {format_bytes(available)}"
                  if read_size + HEADROOM_BYTES > available else None)
        if reason:
            wordcount_skips.append({"name": request.node.name, "reason": reason})
            pytest.skip(f"{name}: {reason}")
    text = corpus.text(read_size)
    llc = last_level_cache() or 0  # read once; 0 (unknown) labels every text "memory"
    rounds, _ = rounds_for(len(text))
    rounds = max(rounds, 10)
    seconds: list[float] = []
    methods: set[str] = set()

    def one_read() -> None:
        read = read_limit(text, threads, rounds=1, llc=llc)
        seconds.append(read.seconds)
        methods.add(read.method)

    benchmark.pedantic(one_read, rounds=rounds, warmup_rounds=1, iterations=1)
    (method,) = methods
    timed = seconds[1:]  # the warm-up's read is not kept
    median = statistics.median(timed)
    level = level_of(len(text), llc)
    benchmark.extra_info.update(
        kind="memory-read", threads=threads, level=level, method=method,
        read_seconds=median, read_best_seconds=min(timed), read_rounds=len(timed),
        gb_per_s=len(text) / median / 1e9, **_common_info(corpus, len(text)))
