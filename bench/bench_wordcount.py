"""Time and memory of every strategy in the matrix (``wcbench.matrix``), grouped by text size.

Per case, outside any timing: the corpus is loaded (generated and cached on first use), the
memory estimate may skip the case, untimed calls with every probe on measure its memory
(``wcbench.memory.measure_memory``; the median of three calls where calls are quick) and check
the count; then pedantic rounds time ``count_words`` itself, worker start-up included, as a
user pays it (with ``--instructions``, each case's instructions too, counted apart under
callgrind: ``wcbench.session.cases.count_instructions``). Beside each size's cases, the physical
limit to compare them against: reading the same bytes (``wordcount.bandwidth.read_limit``: the
native extension streaming through the text, vector loads, nothing written; numpy's sum only
where the extension is not built) with each thread count the size's cases use as workers, and
always with one thread (``memory-read-32MiB-t2``).

This module parametrises, calls and times; what each case does besides is
``wcbench.session.cases``', what it saves ``wcbench.record``'s. Run through ``make bench`` (or
``pytest bench``, with the options in the root ``conftest.py``).
"""

from __future__ import annotations

import statistics

import pytest

import wordcount
from wcbench import forkguard, record
from wcbench.ab.instructions import Callgrind
from wcbench.matrix import Case, rounds_for, size_group
from wcbench.record import SkippedCase
from wcbench.session import cases, options
from wcbench.session.cases import Corpus
from wordcount.bandwidth import last_level_cache, level_of, read_limit


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = options.chosen_cases(metafunc.config)
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", chosen, ids=[c.name for c in chosen])
    if "read_size" in metafunc.fixturenames:
        reads = cases.reads_to_measure(chosen)
        metafunc.parametrize("read_size,threads", reads,
                             ids=[cases.read_name(s, t) for s, t in reads])


@pytest.fixture(scope="session")
def corpus(pytestconfig: pytest.Config) -> Corpus:
    return Corpus(options.selection(pytestconfig), options.memory_budget(pytestconfig))


@pytest.fixture(scope="session")
def time_budget(pytestconfig: pytest.Config) -> float | None:
    return options.time_budget(pytestconfig)


@pytest.fixture(scope="session")
def callgrind(pytestconfig: pytest.Config) -> Callgrind | None:
    return options.callgrind(pytestconfig)


def test_wordcount(benchmark, case: Case, corpus: Corpus, wordcount_skips: list[SkippedCase],
                   time_budget: float | None, callgrind: Callgrind | None,
                   request: pytest.FixtureRequest) -> None:
    benchmark.group = case.group
    if case.refusal:  # shown, with the executor's own reason, rather than left out
        wordcount_skips.append(SkippedCase(request.node.name, case.refusal))
        pytest.skip(f"{case.name}: refused: {case.refusal}")
    reason = cases.case_skip_reason(case, corpus, time_budget)
    if reason:
        wordcount_skips.append(SkippedCase(request.node.name, reason))
        pytest.skip(f"{case.name}: {reason}")
    text = corpus.text(case.size)
    expected = corpus.expected_count(case.size)
    corpus.warm_up(case)
    kwargs = case.kwargs

    seconds, memory = cases.memory_calls(text, kwargs)
    assert all(f.count == expected for f in memory), f"{case.name} miscounted under probes"
    # figures recorded before timing: --benchmark-memory (wcbench.pytest_plugin) then makes no
    # memory call of its own here (one measurement, not two)
    benchmark.extra_info.update(record.median_memory_fields(memory))

    rounds, warmup, pilot = cases.plan_rounds(text, kwargs, seconds)
    count = benchmark.pedantic(wordcount.count_words, args=(text,), kwargs=kwargs,
                               rounds=rounds, warmup_rounds=warmup, iterations=1)
    assert count == expected, f"{case.name} miscounted"
    forked = forkguard.take()
    assert not forked, "\n".join(f.describe() for f in forked)
    estimate_bytes, estimate_seconds = cases.estimates(case, text)
    benchmark.extra_info.update(record.case_fields(
        case, start_method=memory[0].start_method, text_bytes=len(text), corpus=corpus.label,
        memory=record.median_memory_fields(memory), estimate_bytes=estimate_bytes,
        estimate_seconds=estimate_seconds, pilot_seconds=pilot))
    if callgrind is not None:  # --instructions: counted apart, in a process under callgrind
        benchmark.extra_info.update(cases.count_instructions(case, corpus, callgrind))


def test_memory_read(benchmark, read_size: int, threads: int, corpus: Corpus,
                     wordcount_skips: list[SkippedCase], request: pytest.FixtureRequest) -> None:
    """Reading the text once with ``threads`` threads: the limit of a count with as many workers.

    Each pytest round is one read (``read_limit(..., rounds=1)``); the figure saved is the read's
    own time, taken in C around the loads (threads started and waiting at a barrier first), so
    starting threads from Python is not charged to memory. Its median is the limit: a case's
    figure is its median too.
    """
    benchmark.group = size_group(read_size)
    reason = cases.read_skip_reason(read_size, corpus)
    if reason:
        wordcount_skips.append(SkippedCase(request.node.name, reason))
        pytest.skip(f"{cases.read_name(read_size, threads)}: {reason}")
    text = corpus.text(read_size)
    llc = last_level_cache() or 0  # read once; 0 (unknown) labels every text "memory"
    rounds = max(rounds_for(len(text))[0], 10)
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
    benchmark.extra_info.update(record.memory_read_fields(
        threads=threads, level=level_of(len(text), llc), method=method, seconds=median,
        best_seconds=min(timed), rounds=len(timed), gb_per_s=len(text) / median / 1e9,
        text_bytes=len(text), corpus=corpus.label))
