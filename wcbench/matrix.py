"""The benchmark matrix as data: which cases run, what they are called, how many rounds each gets.

One place for the parameter lists, shared by the pytest options (root ``conftest.py``), the Make
variables of the same names (``SIZES``, ``WORKERS``, ``KERNELS``, ``EXECUTORS``,
``START_METHODS``, ``CORPUS``, ``CORPUS_FILE``), ``wcbench ab``, ``wcbench flamegraphs`` and the
benchmark module. :func:`add_matrix_options` declares those options, for pytest and for argparse
alike; :meth:`Selection.parse` is their one parser, and a :class:`Selection` is what every
consumer takes: the lists given (each consumer has its own defaults for a list not given) and the
text each size needs (a generated corpus, or a file at its own size). Combinations that make
no sense are not generated: a start method applies only to executors that start processes, and
``serial`` runs exactly one worker (it is kept at ``workers=1`` whatever ``WORKERS`` says, since
it is the baseline every other strategy is compared with). A combination that cannot work
(``wordcount.executors.REFUSED``: numpy in subinterpreters) is generated all the same, so the
benchmark shows it skipped with its reason (``Case.refusal``) rather than silently absent.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import wordcount
from wcbench import corpus as corpora
from wcbench.units import format_size, parse_size
from wordcount.executors import PROCESS_EXECUTORS, refusal

#: Sizes of the default matrices: 32x apart, so per-byte costs and fixed start-up costs both show.
DEFAULT_SIZES: tuple[str, ...] = ("1MiB", "32MiB")
#: Worker counts of the full grid: one, as many as this machine's 2 cores, and oversubscribed.
DEFAULT_WORKERS: tuple[int, ...] = (1, 2, 4)
#: The generated corpus counted unless ``--corpus`` names another.
DEFAULT_CORPUS = "ascii"

#: Bytes of text each case should count in its timed rounds: small cases get many rounds...
ROUND_BUDGET_BYTES = 64 << 20
#: ...but no case should spend much more than this many seconds in timed rounds (a round that
#: starts four spawned interpreters takes about a second even on a tiny text).
ROUND_BUDGET_SECONDS = 2.0
#: Round limits: at least 5 (a median of 3 is at the mercy of one burst of load on a shared
#: machine), at most 50.
MIN_ROUNDS, MAX_ROUNDS = 5, 50
#: A slow call (GiB of text under spawn: tens of seconds) gets fewer rounds, as many as fit in
#: this many seconds, but never fewer than ``MIN_ROUNDS_SLOW``: big cases run a few times, not 5.
SLOW_CASE_SECONDS = 60.0
MIN_ROUNDS_SLOW = 3
#: Up to this size a case gets one warm-up round (cheap there, and it settles caches); above it the
#: untimed memory call that precedes the timing serves as the warm-up.
WARMUP_MAX_BYTES = 4 << 20


@dataclass(frozen=True)
class Case:
    """One benchmark to run: count ``size`` bytes with ``kernel`` on ``executor`` with
    ``workers``. What a run measured for it is :class:`wcbench.record.MeasuredCase`."""

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
    def kwargs(self) -> dict[str, object]:
        """The keyword arguments of ``wordcount.count_words`` that count this case."""
        return {"kernel": self.kernel, "executor": self.executor, "workers": self.workers,
                "start_method": self.start_method}

    @property
    def refusal(self) -> str | None:
        """Why this kernel cannot run on this executor (the executor refuses it), or None."""
        return refusal(self.kernel, self.executor)

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


#: Executors whose engine keeps threads alive in this process between calls (Dask's local
#: cluster and client; the interpreter pool's thread in each interpreter).
KEEP_THREADS: frozenset[str] = frozenset({"dask", "interpreter-pool"})


def build_cases(sizes: Iterable[int], workers: Iterable[int], kernels: Sequence[str] = (),
                executors: Sequence[str] = (), start_methods: Sequence[str] = (), *,
                available_executors: Sequence[str] | None = None) -> list[Case]:
    """Every sensible case, ordered by size, kernel, executor, start method and workers (those of
    ``KEEP_THREADS`` last within a size).

    Empty ``kernels``, ``executors`` or ``start_methods`` mean all that this install has
    (``wordcount.KERNELS``, ``wordcount.EXECUTORS``, ``wordcount.START_METHODS``);
    ``available_executors`` replaces ``wordcount.EXECUTORS`` where the cases run under other
    interpreters (``wcbench ab``: those both sides have).
    """
    kernels = _choose("kernel", kernels, wordcount.KERNELS)
    executors = _choose("executor", executors, wordcount.EXECUTORS if available_executors is None
                        else available_executors)
    methods = _choose("start method", start_methods, wordcount.START_METHODS)
    workers = sorted(set(workers))
    # Executors that keep threads in this process between calls go after the others of a size:
    # a case that forks its workers must not fork beside them (the run closes them first).
    passes = [[e for e in executors if e not in KEEP_THREADS],
              [e for e in executors if e in KEEP_THREADS]]
    cases = []
    for size in sorted(set(sizes)):
        for part in passes:
            for kernel in kernels:
                for executor in part:
                    if executor == "serial":
                        cases.append(Case(kernel, executor, None, size, 1))
                        continue
                    for method in methods if executor in PROCESS_EXECUTORS else [None]:
                        cases += [Case(kernel, executor, method, size, w) for w in workers]
    return cases


#: The precision a case's median is timed to, where a pilot says how noisy its calls are: the 95%
#: interval of the median (McGill, Tukey and Larsen's notch, ``NOTCH * IQR / sqrt(rounds)``)
#: within this fraction of it either way. Tighter would cost rounds that the day-to-day drift
#: of a shared machine (``wcbench ab`` measured +-3-8% between sessions) swamps anyway.
TARGET_HALF_WIDTH = 0.05
#: Half-width of a median's 95% interval in IQRs, times sqrt(rounds): McGill, Tukey and Larsen's
#: notch (what matplotlib's box plots draw). ``wcbench compare`` judges medians with it too.
NOTCH = 1.57
#: Untimed pilot calls made just before the timed rounds (they are also the warm-up)...
PILOT_CALLS = 3
#: ...when that many calls fit in this many seconds; a slower case keeps the budget rule alone.
PILOT_BUDGET_SECONDS = 1.5
#: The interquartile range of a normal sample is about 0.8x the expected range of 3 draws
#: (1.35 sigma against 1.69 sigma): how a pilot's spread becomes an IQR.
IQR_PER_RANGE_OF_3 = 1.349 / 1.693


def pilot_calls(seconds_per_call: float) -> int:
    """How many untimed pilot calls a case gets: ``PILOT_CALLS`` when they are cheap, else 0."""
    if seconds_per_call * PILOT_CALLS <= PILOT_BUDGET_SECONDS:
        return PILOT_CALLS
    return 0


def rounds_for_spread(pilot: Sequence[float], budget_rounds: int) -> int:
    """Rounds that time the median to ``TARGET_HALF_WIDTH``, judged from the pilot's spread.

    A case whose calls agree gets ``MIN_ROUNDS``; a noisy one more, up to ``budget_rounds`` (what
    :func:`rounds_for` allows its size and speed), so rounds go where the spread needs them.
    """
    middle = statistics.median(pilot)
    if len(pilot) < 2 or middle <= 0:
        return budget_rounds
    iqr = (max(pilot) - min(pilot)) / middle * IQR_PER_RANGE_OF_3
    needed = math.ceil((NOTCH * iqr / TARGET_HALF_WIDTH) ** 2)
    return max(MIN_ROUNDS, min(budget_rounds, needed))


def rounds_for(size: int, seconds_per_call: float | None = None) -> tuple[int, int]:
    """``(rounds, warmup_rounds)`` for a text of ``size`` bytes: many for small, few for big.

    ``seconds_per_call`` (from the untimed memory call) caps the rounds so a slow strategy on a
    small text does not take minutes; never fewer than ``MIN_ROUNDS``, except for a call so slow
    that ``MIN_ROUNDS`` of them exceed ``SLOW_CASE_SECONDS``: then as many as fit there, at least
    ``MIN_ROUNDS_SLOW``.
    """
    rounds = ROUND_BUDGET_BYTES // max(size, 1)
    floor = MIN_ROUNDS
    if seconds_per_call is not None and seconds_per_call > 0:
        rounds = min(rounds, int(ROUND_BUDGET_SECONDS / seconds_per_call))
        floor = max(MIN_ROUNDS_SLOW, min(MIN_ROUNDS, int(SLOW_CASE_SECONDS / seconds_per_call)))
    rounds = min(MAX_ROUNDS, max(floor, rounds))
    return rounds, 1 if size <= WARMUP_MAX_BYTES else 0


@dataclass(frozen=True)
class Preset:
    """A named matrix (``make bench MATRIX=<name>``): its lists, and where each kernel stops.

    Options given beside it (``SIZES``, ``WORKERS``, ``KERNELS``, ``EXECUTORS``,
    ``START_METHODS``) replace the preset's list of the same name; ``max_size`` still applies.
    """

    name: str
    why: str
    sizes: tuple[str, ...]
    workers: tuple[int, ...]
    #: kernels it runs (empty: all of ``wordcount.KERNELS``)
    kernels: tuple[str, ...] = ()
    #: kernel -> the largest text it runs at (a kernel not named here runs at every size)
    max_size: Mapping[str, str] = field(default_factory=dict)
    #: kernel -> the only executors it runs with (a kernel not named here runs with every one)
    executors_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: seconds one case may take (estimated: its memory call and its rounds; ``--time-limit``
    #: replaces it); None: no budget
    time_budget: float | None = None

    def cases(self, sizes: Iterable[int] = (), workers: Iterable[int] = (),
              kernels: Sequence[str] = (), executors: Sequence[str] = (),
              start_methods: Sequence[str] = ()) -> list[Case]:
        """The preset's cases, with any list given here replacing the preset's own."""
        sizes = list(sizes) or [parse_size(s) for s in self.sizes]
        cases = build_cases(sizes, list(workers) or list(self.workers),
                            list(kernels) or list(self.kernels), executors, start_methods)
        caps = {k: parse_size(v) for k, v in self.max_size.items()}
        return [c for c in cases if c.size <= caps.get(c.kernel, c.size)
                and c.executor in self.executors_of.get(c.kernel, (c.executor,))]


#: The seed's 8 GB example, measured: sizes 4x apart from 1 MiB to 8 GiB so that a line fitted
#: over them separates each strategy's fixed cost from its cost per byte; two workers (per-byte
#: costs do not depend on the worker count). Kernels are named, so one added later does not double
#: the run; where each stops, and the time budget, are set by what a case costs on this machine
#: (docs/scale.md, "The matrix"). What does not fit in memory or in the budget is skipped with its
#: estimate.
SCALE = Preset(
    name="scale",
    why="how time and memory grow with the text, 1 MiB to 8 GiB (make bench-scale)",
    sizes=("1MiB", "4MiB", "16MiB", "64MiB", "256MiB", "1GiB", "4GiB", "8GiB"),
    workers=(2,),
    kernels=("split", "numpy", *(("native",) if "native" in wordcount.KERNELS else ())),
    max_size={"split": "256MiB"},
    executors_of={"native": ("serial", "threads")},
    time_budget=120.0,
)

#: The default: a first answer in about five minutes on a 2-core machine, set-up included. Every
#: kernel x executor x start method at the two default sizes, with two workers (this machine's
#: cores; ``serial`` is the one-worker baseline): 72 cases where the full grid has 204. The worker
#: counts 1 and 4 (one process, oversubscribed) are the full grid's.
QUICK = Preset(
    name="quick",
    why="every kernel x executor x start method at 1 MiB and 32 MiB, 2 workers, about 5 "
        "minutes (the default)",
    sizes=DEFAULT_SIZES,
    workers=(2,),
)

#: Every worker count too: how each strategy scales from one worker to oversubscribed.
FULL = Preset(
    name="full",
    why="the quick matrix with 1, 2 and 4 workers, about 12 minutes",
    sizes=DEFAULT_SIZES,
    workers=DEFAULT_WORKERS,
)

#: The matrix ``make bench`` and ``pytest bench`` run when none is named.
DEFAULT_MATRIX = QUICK.name

#: Every named matrix, by the name ``MATRIX=`` / ``--matrix`` takes.
PRESETS: dict[str, Preset] = {p.name: p for p in (QUICK, FULL, SCALE)}


def preset(name: str) -> Preset:
    """The preset called ``name``; ``ValueError`` listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown matrix {name!r}; choose from: {', '.join(PRESETS)}") from None


# --- choosing cases: the options and the selection they make ---------------------------------

#: The five list options, in the order they are declared: option, what it lists, Make variable.
LIST_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("sizes", "text sizes, e.g. 1MiB,64MiB", "SIZES"),
    ("workers", "worker counts", "WORKERS"),
    ("kernels", "kernels", "KERNELS"),
    ("executors", "executors", "EXECUTORS"),
    ("start-methods", "start methods of the process executors", "START_METHODS"),
)


def add_matrix_options(add: Callable[..., object],
                       defaults: Mapping[str, tuple[str, str]]) -> None:
    """Declare ``--sizes``, ``--workers``, ``--kernels``, ``--executors``, ``--start-methods``,
    ``--corpus`` and ``--corpus-file`` with ``add``: pytest's ``group.addoption`` or argparse's
    ``parser.add_argument`` (their signatures agree on everything used here).

    ``defaults``: option -> (its default value, what the default means in the help), for the
    options whose default is not "" meaning "all"; each command has its own.
    """
    for option, what, variable in LIST_OPTIONS:
        value, meaning = defaults.get(option, ("", f"all of wordcount.{variable}"))
        tail = "; serial always runs 1" if option == "workers" else ""
        add(f"--{option}", default=value, metavar="LIST",
            help=f"{what} (make: {variable}; default: {meaning}){tail}")
    add("--corpus", default=DEFAULT_CORPUS, choices=corpora.FLAVOURS,
        help=f"generated corpus flavour (make: CORPUS; default {DEFAULT_CORPUS})")
    add("--corpus-file", default="", metavar="PATH",
        help="measure this UTF-8 text file instead of a generated corpus, at its own size "
             "(make: CORPUS_FILE; --sizes is then ignored)")


@dataclass(frozen=True)
class Selection:
    """The cases asked for and the text they count: the five lists as given (empty: not given,
    and each consumer then uses its own defaults) and the corpus (a generated flavour, or a file
    at its own size, named as it was given)."""

    sizes: tuple[int, ...] = ()
    workers: tuple[int, ...] = ()
    kernels: tuple[str, ...] = ()
    executors: tuple[str, ...] = ()
    start_methods: tuple[str, ...] = ()
    corpus: str = DEFAULT_CORPUS
    corpus_file: str = ""

    @classmethod
    def parse(cls, *, sizes: str = "", workers: str = "", kernels: str = "",
              executors: str = "", start_methods: str = "", corpus: str = DEFAULT_CORPUS,
              corpus_file: str | os.PathLike = "") -> Selection:
        """From the options' text (``"1MiB,32MiB"``); ``ValueError`` on a bad size or count.
        A list given blank (``""``, ``","``) is not given; with a corpus file, ``sizes`` is
        ignored (the file is counted at its own size)."""
        return cls(tuple(parse_sizes(sizes)) if parse_list(sizes) and not corpus_file else (),
                   tuple(parse_workers(workers)) if parse_list(workers) else (),
                   tuple(parse_list(kernels)), tuple(parse_list(executors)),
                   tuple(parse_list(start_methods)), corpus, str(corpus_file or ""))

    @property
    def given(self) -> bool:
        """Whether any of the five lists was given."""
        return any((self.sizes, self.workers, self.kernels, self.executors, self.start_methods))

    @property
    def file(self) -> Path | None:
        return Path(self.corpus_file) if self.corpus_file else None

    @property
    def label(self) -> str:
        """What the text is called in a saved record: the file's name, or the flavour."""
        return self.file.name if self.file else self.corpus

    def sizes_or(self, default: Iterable[int]) -> list[int]:
        """The file's size when counting a file (``OSError`` when it cannot be read), else the
        sizes given, else ``default``."""
        if self.file is not None:
            return [self.file.stat().st_size]
        return list(self.sizes or default)

    def cases(self, sizes: Iterable[int], workers: Iterable[int], *,
              available_executors: Sequence[str] | None = None) -> list[Case]:
        """:func:`build_cases` of the lists given, ``sizes`` and ``workers`` where not given."""
        return build_cases(self.sizes_or(sizes), list(self.workers or workers), self.kernels,
                           self.executors, self.start_methods,
                           available_executors=available_executors)

    def preset_cases(self, chosen: Preset) -> list[Case]:
        """The preset's cases, each list given replacing the preset's own."""
        return chosen.cases(self.sizes_or(()), self.workers, self.kernels, self.executors,
                            self.start_methods)

    def text(self, size: int) -> bytes:
        """The text a case of ``size`` counts: the file, or the generated corpus (cached)."""
        return self.file.read_bytes() if self.file else corpora.load(size, self.corpus)

    def text_path(self, size: int) -> Path:
        """A file holding that text, for another process to read: the file itself (resolved),
        or the cached generated corpus."""
        return self.file.resolve() if self.file else corpora.cached_path(size, self.corpus)
