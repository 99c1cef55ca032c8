"""The benchmark matrix as data: which cases run, what they are called, how many rounds each gets.

One place for the parameter lists, shared by the pytest options (root ``conftest.py``), the Make
variables of the same names (``SIZES``, ``WORKERS``, ``KERNELS``, ``EXECUTORS``,
``START_METHODS``, ``CORPUS``, ``CORPUS_FILE``) and the benchmark module. Combinations that make
no sense are not generated: a start method applies only to executors that start processes, and
``serial`` runs exactly one worker (it is kept at ``workers=1`` whatever ``WORKERS`` says, since
it is the baseline every other strategy is compared with).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import wordcount
from wcbench.units import format_size, parse_size
from wordcount.executors import PROCESS_EXECUTORS

#: Default sizes: 32x apart, so per-byte costs and fixed start-up costs both show, and the whole
#: default matrix stays under 10 minutes on a 2-core machine.
DEFAULT_SIZES: tuple[str, ...] = ("1MiB", "32MiB")
#: Default worker counts: one, as many as this machine's 2 cores, and oversubscribed.
DEFAULT_WORKERS: tuple[int, ...] = (1, 2, 4)

#: Bytes of text each case should count in its timed rounds: small cases get many rounds...
ROUND_BUDGET_BYTES = 64 << 20
#: ...but no case should spend much more than this many seconds in timed rounds (a round that
#: starts four spawned interpreters takes about a second even on a tiny text).
ROUND_BUDGET_SECONDS = 2.0
#: Round limits: at least 5 (a median of 3 is at the mercy of one burst of load on a shared
#: machine), at most 50.
MIN_ROUNDS, MAX_ROUNDS = 5, 50
#: Up to this size a case gets one warm-up round (cheap there, and it settles caches); above it the
#: untimed memory call that precedes the timing serves as the warm-up.
WARMUP_MAX_BYTES = 4 << 20


@dataclass(frozen=True)
class Case:
    """One benchmark to run: count ``size`` bytes with ``kernel`` on ``executor`` with
    ``workers``. What a run measured for it is :class:`wcbench.results.MeasuredCase`."""

    kernel: str
    executor: str
    start_method: str | None
    size: int
    workers: int

    @property
    def name(self) -> str:
        """``split-processes-spawn-1MiB-w2``; no method part for executors without processes."""
        parts = [self.kernel, self.executor]
        if self.start_method is not None:
            parts.append(self.start_method)
        parts += [format_size(self.size), f"w{self.workers}"]
        return "-".join(parts)

    @property
    def group(self) -> str:
        """The pytest-benchmark group: cases of one size, so the table compares like with like."""
        return size_group(self.size)


def size_group(size: int) -> str:
    """Group name shared by every benchmark of one text size."""
    return f"size {format_size(size)}"


def parse_list(text: str | None) -> list[str]:
    """``"a, b,,a"`` -> ``["a", "b"]``: comma-separated, blanks dropped, order kept, no repeats."""
    if not text:
        return []
    items = [item.strip() for item in text.split(",")]
    return list(dict.fromkeys(item for item in items if item))


def parse_sizes(text: str | None) -> list[int]:
    """Sizes from ``"1MiB,32MiB"`` (defaults when empty); ``ValueError`` on a bad size."""
    sizes = [parse_size(s) for s in (parse_list(text) or DEFAULT_SIZES)]
    bad = [s for s in sizes if s <= 0]
    if bad:
        raise ValueError(f"sizes must be positive, got {bad}")
    return sorted(dict.fromkeys(sizes))


def parse_workers(text: str | None) -> list[int]:
    """Worker counts from ``"1,2,4"`` (defaults when empty); ``ValueError`` unless all >= 1."""
    items = parse_list(text)
    if not items:
        return list(DEFAULT_WORKERS)
    try:
        workers = [int(w) for w in items]
    except ValueError:
        raise ValueError(f"worker counts must be integers, got {text!r}") from None
    if any(w < 1 for w in workers):
        raise ValueError(f"worker counts must be at least 1, got {text!r}")
    return sorted(dict.fromkeys(workers))


def _choose(kind: str, asked: Sequence[str], valid: Sequence[str]) -> list[str]:
    """``asked`` (or all of ``valid`` when empty), refusing unknown names with the valid ones."""
    unknown = [a for a in asked if a not in valid]
    if unknown:
        raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown))}; "
                         f"choose from: {', '.join(valid)}")
    return list(asked) if asked else list(valid)


def build_cases(sizes: Iterable[int], workers: Iterable[int], kernels: Sequence[str] = (),
                executors: Sequence[str] = (), start_methods: Sequence[str] = ()) -> list[Case]:
    """Every sensible case, ordered by size, kernel, executor, start method and workers.

    Empty ``kernels``, ``executors`` or ``start_methods`` mean all that this install has
    (``wordcount.KERNELS``, ``wordcount.EXECUTORS``, ``wordcount.START_METHODS``).
    """
    kernels = _choose("kernel", kernels, wordcount.KERNELS)
    executors = _choose("executor", executors, wordcount.EXECUTORS)
    methods = _choose("start method", start_methods, wordcount.START_METHODS)
    workers = sorted(set(workers))
    cases = []
    for size in sorted(set(sizes)):
        for kernel in kernels:
            for executor in executors:
                if executor == "serial":
                    cases.append(Case(kernel, executor, None, size, 1))
                    continue
                for method in methods if executor in PROCESS_EXECUTORS else [None]:
                    cases += [Case(kernel, executor, method, size, w) for w in workers]
    return cases


def rounds_for(size: int, seconds_per_call: float | None = None) -> tuple[int, int]:
    """``(rounds, warmup_rounds)`` for a text of ``size`` bytes: many for small, few for big.

    ``seconds_per_call`` (from the untimed memory call) caps the rounds so a slow strategy on a
    small text does not take minutes; never fewer than ``MIN_ROUNDS``.
    """
    rounds = ROUND_BUDGET_BYTES // max(size, 1)
    if seconds_per_call is not None and seconds_per_call > 0:
        rounds = min(rounds, int(ROUND_BUDGET_SECONDS / seconds_per_call))
    rounds = min(MAX_ROUNDS, max(MIN_ROUNDS, rounds))
    return rounds, 1 if size <= WARMUP_MAX_BYTES else 0
