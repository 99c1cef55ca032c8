"""A saved A/B comparison, typed: what ``wcbench ab`` writes and every reader reads.

``wcbench ab`` builds an :class:`AbResult` and saves ``to_json()`` under ``results/ab/``; the
printed table (:mod:`wcbench.ab.text`), the Markdown page (:mod:`wcbench.ab.page`),
``wcbench ab-validate`` and ``wcbench export --ab`` read it back with :func:`load_ab`. Written
and read side by side, so the JSON's names live here.

Format ``wcbench-ab``, version 3 (the settings' ``measures``, a case's ``instructions``: a case
measured by instructions alone has no rounds, times or memory); 1 and 2 (2: rounds name their
instance) are read too. Older files lack what later versions added (a figure's ``exact``, the
settings' ``block_rounds``; ``memory_limits`` where newer ones hold ``memory_rules``): those
read as None and are written back only when present, so a saved file writes back unchanged.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from wcbench import record
from wcbench.ab.stats import RatioInterval
from wcbench.record import SkippedCase

FORMAT = "wcbench-ab"
#: The version written, and the versions read.
VERSION, VERSIONS = 3, (1, 2, 3)
SIDES = ("base", "new")
#: The verdict of a case whose two sides counted differently (a regression, never timed on).
WRONG_COUNT = "wrong count"
#: What a session can measure (``wcbench ab --measure``); time alone by default.
TIME, INSTRUCTIONS = "time", "instructions"
MEASURES = (TIME, INSTRUCTIONS)

T = TypeVar("T")


class SavedAbError(Exception):
    """A file that is not a saved A/B comparison (the CLI prints it on one line, exit 2)."""


def _optional(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` when ``value`` was present (not None): a field older files lack."""
    if value is not None:
        out[key] = value


@dataclass(frozen=True)
class Pair(Generic[T]):
    """One figure of each side."""

    base: T
    new: T

    def to_json(self, value: Any = None) -> dict[str, Any]:
        convert = value or (lambda v: v)
        return {"base": convert(self.base), "new": convert(self.new)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], value: Any = None) -> Pair:
        convert = value or (lambda v: v)
        return cls(convert(data.get("base")), convert(data.get("new")))

    def __getitem__(self, side: str) -> T:
        return self.base if side == "base" else self.new


def _pair(data: Mapping[str, Any] | None) -> Pair | None:
    return Pair.from_json(data) if data else None


def _pair_json(pair: Pair | None) -> dict[str, Any] | None:
    return pair.to_json() if pair is not None else None


def format_interval(interval: RatioInterval | None, dash: str, digits: int = 3) -> str:
    """``1.050 [1.010-1.080]`` (``dash`` between the ends, and alone when there is none;
    ``digits`` decimals: 4 for instruction counts, which move by hundredths of a percent)."""
    if interval is None:
        return dash
    return (f"{interval.ratio:.{digits}f} [{interval.low:.{digits}f}{dash}"
            f"{interval.high:.{digits}f}]")


def interval_from_json(data: Mapping[str, Any]) -> RatioInterval:
    return RatioInterval(data["ratio"], data["low"], data["high"], data.get("rounds"))


@dataclass(frozen=True)
class Round:
    """One paired round: both sides' seconds, which went first, the CPU both started on, and the
    instance (the pair of fresh side processes) it ran in."""

    base: float
    new: float
    first: str
    cpu: int | None = None
    instance: int | None = None

    def to_json(self) -> dict[str, Any]:
        order = SIDES if self.first == "base" else SIDES[::-1]
        out: dict[str, Any] = {side: self[side] for side in order}
        out["first"] = self.first
        _optional(out, "cpu", self.cpu)
        _optional(out, "instance", self.instance)
        return out

    def __getitem__(self, side: str) -> float:
        return self.base if side == "base" else self.new

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Round:
        return cls(data["base"], data["new"], data["first"], data.get("cpu"),
                   data.get("instance"))


@dataclass(frozen=True)
class MemoryCall:
    """One untimed probed call of a side, as its worker answered (:mod:`wcbench.ab.worker`)."""

    count: int
    copied_bytes: int
    peak_parent_bytes: int
    peak_workers_bytes: int
    worker_peaks: tuple[int, ...]

    def figure(self, key: str) -> int:
        """One figure by its record name (``record.COPIED_BYTES`` ...)."""
        return {record.COPIED_BYTES: self.copied_bytes,
                record.PEAK_PARENT_BYTES: self.peak_parent_bytes,
                record.PEAK_WORKERS_BYTES: self.peak_workers_bytes}[key]

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, record.COPIED_BYTES: self.copied_bytes,
                record.PEAK_PARENT_BYTES: self.peak_parent_bytes,
                record.PEAK_WORKERS_BYTES: self.peak_workers_bytes,
                "worker_peaks": list(self.worker_peaks)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemoryCall:
        return cls(data["count"], data[record.COPIED_BYTES], data[record.PEAK_PARENT_BYTES],
                   data[record.PEAK_WORKERS_BYTES], tuple(data.get("worker_peaks") or ()))


@dataclass(frozen=True)
class MemoryFigure:
    """One memory figure, the median of each side's calls, judged."""

    base: float
    new: float
    grew: bool
    #: False: judged at the wide tolerance (not exact); None: a file from before it was said.
    exact: bool | None = None

    @property
    def is_exact(self) -> bool:
        return self.exact is not False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"base": self.base, "new": self.new, "grew": self.grew}
        _optional(out, "exact", self.exact)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemoryFigure:
        return cls(data["base"], data["new"], bool(data["grew"]), data.get("exact"))


@dataclass(frozen=True)
class CaseMemory:
    """A case's memory figures (by their record names) and every call they came from."""

    figures: Mapping[str, MemoryFigure]
    calls: Pair[tuple[MemoryCall, ...]] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"figures": {k: f.to_json() for k, f in self.figures.items()}}
        if self.calls is not None:
            out["calls"] = self.calls.to_json(lambda calls: [c.to_json() for c in calls])
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseMemory:
        calls = data.get("calls")
        return cls({k: MemoryFigure.from_json(f) for k, f in (data.get("figures") or {}).items()},
                   Pair.from_json(calls, lambda cs: tuple(MemoryCall.from_json(c) for c in cs))
                   if calls is not None else None)


@dataclass(frozen=True)
class CaseInstructions:
    """A case's instructions (``--measure instructions``): every counted call of each side
    (callgrind, warm-up excluded), the ratio of median counts with its range over every pair of
    calls (:func:`wcbench.ab.stats.count_interval`), the threshold and the verdict."""

    calls: Pair[tuple[int, ...]]
    interval: RatioInterval
    threshold: float
    verdict: str

    @property
    def median(self) -> Pair[float]:
        return Pair(*(statistics.median(self.calls[s]) for s in SIDES))

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls.to_json(list), "interval": self.interval.as_dict(),
                "threshold": self.threshold, "verdict": self.verdict}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseInstructions:
        return cls(Pair.from_json(data["calls"], tuple), interval_from_json(data["interval"]),
                   data["threshold"], data["verdict"])


@dataclass(frozen=True)
class CaseResult:
    """One case judged: what ran, both sides' counts, memory and rounds, the ratio, a verdict.

    A case whose sides counted differently stops there: its verdict is :data:`WRONG_COUNT`, it
    has no interval or medians, and ``counts_differ`` holds the counts that differed.

    ``verdict`` and ``threshold`` are the times' when the case was timed; a case measured by
    instructions alone takes its instructions' (``instructions``). ``regression`` covers all:
    a wrong count, either measure ``slower``, a memory figure past its limit.
    """

    name: str
    kind: str
    kernel: str | None
    executor: str | None
    workers: int | None
    start_method: str | None
    size: int | None
    threshold: float
    verdict: str
    regression: bool
    rounds: tuple[Round, ...] = ()
    counts: Pair[int] | None = None
    warmup_seconds: Pair[float] | None = None
    memory: CaseMemory | None = None
    #: Each instance's process ids (version 2).
    processes: tuple[Pair[int], ...] | None = None
    interval: RatioInterval | None = None
    median: Pair[float] | None = None
    #: The memory figures that grew past their limits.
    memory_grew: tuple[str, ...] = ()
    counts_differ: Pair[int] | None = None
    #: The instructions counted (version 3), None where they were not.
    instructions: CaseInstructions | None = None

    @property
    def timed(self) -> bool:
        """Whether the case has rounds of times (not one measured by instructions alone)."""
        return bool(self.rounds) or self.interval is not None

    def to_json(self) -> dict[str, Any]:
        """In the order ``wcbench ab`` always wrote it (a wrong count: as it stopped)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "kernel": self.kernel,
                               "executor": self.executor, "workers": self.workers,
                               "start_method": self.start_method, "size": self.size,
                               "threshold": self.threshold}
        if self.counts is not None:
            out.update(counts=self.counts.to_json(),
                       warmup_seconds=_pair_json(self.warmup_seconds))
        memory = self.memory.to_json() if self.memory is not None else None
        rounds = [r.to_json() for r in self.rounds]
        if self.verdict == WRONG_COUNT:
            if rounds:  # found after the first instance, which had measured the memory
                out["memory"] = memory
            out.update(verdict=self.verdict, regression=self.regression, rounds=rounds,
                       memory=memory, counts_differ=_pair_json(self.counts_differ))
            return self._with_instructions(out)
        out.update(memory=memory, rounds=rounds)
        if self.processes is not None:
            out["processes"] = [p.to_json() for p in self.processes]
        out.update(interval=self.interval.as_dict() if self.interval else None,
                   verdict=self.verdict, median=_pair_json(self.median),
                   memory_grew=list(self.memory_grew), regression=self.regression)
        return self._with_instructions(out)

    def _with_instructions(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.instructions is not None:
            out["instructions"] = self.instructions.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseResult:
        memory, interval, processes = (data.get(k) for k in ("memory", "interval", "processes"))
        return cls(
            name=data["name"], kind=data.get("kind", ""), kernel=data.get("kernel"),
            executor=data.get("executor"), workers=data.get("workers"),
            start_method=data.get("start_method"), size=data.get("size"),
            threshold=data.get("threshold"), verdict=data["verdict"],
            regression=bool(data.get("regression")),
            rounds=tuple(Round.from_json(r) for r in data.get("rounds") or ()),
            counts=_pair(data.get("counts")), warmup_seconds=_pair(data.get("warmup_seconds")),
            memory=CaseMemory.from_json(memory) if memory is not None else None,
            processes=tuple(Pair.from_json(p) for p in processes)
            if processes is not None else None,
            interval=interval_from_json(interval) if interval else None,
            median=_pair(data.get("median")), memory_grew=tuple(data.get("memory_grew") or ()),
            counts_differ=_pair(data.get("counts_differ")),
            instructions=CaseInstructions.from_json(data["instructions"])
            if data.get("instructions") else None)


@dataclass(frozen=True)
class Settings:
    """How the session judged: budget, thresholds, rounds, memory rules, the corpus."""

    budget_seconds: float
    threshold: float | None = None
    thresholds: Mapping[str, float] | None = None
    min_rounds: int | None = None
    block_rounds: int | None = None
    stop_confidence: float | None = None
    max_rounds: int | None = None
    memory_calls: int | None = None
    seed: int | None = None
    #: The memory rules as lines (:meth:`wcbench.compare.rules.Rules.describe`) ...
    memory_rules: Sequence[str] | None = None
    #: ... or, in files from before those, the limits per figure.
    memory_limits: Mapping[str, Any] | None = None
    corpus: str | None = None
    #: What was measured (version 3; older files: time alone).
    measures: Sequence[str] | None = None
    #: How instructions were counted: valgrind, its options, calls a side, thresholds, the
    #: instruction set the native kernel ran on the simulated CPU (version 3).
    instructions: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"budget_seconds": self.budget_seconds,
                               "threshold": self.threshold, "thresholds": self.thresholds,
                               "min_rounds": self.min_rounds}
        _optional(out, "block_rounds", self.block_rounds)
        out.update(stop_confidence=self.stop_confidence, max_rounds=self.max_rounds,
                   memory_calls=self.memory_calls, seed=self.seed)
        _optional(out, "memory_rules",
                  list(self.memory_rules) if self.memory_rules is not None else None)
        _optional(out, "memory_limits", self.memory_limits)
        out["corpus"] = self.corpus
        _optional(out, "measures", list(self.measures) if self.measures is not None else None)
        _optional(out, "instructions", self.instructions)
        return out

    @property
    def measured(self) -> tuple[str, ...]:
        """What the session measured: ``("time",)`` for files from before it was said."""
        return tuple(self.measures) if self.measures else (TIME,)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        return cls(**{f: data.get(f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Machine:
    """The session's machine: CPUs, and the load average at its start and its end."""

    cpu_count: int | None
    loadavg_before: Sequence[float]
    loadavg_after: Sequence[float]

    def to_json(self) -> dict[str, Any]:
        return {"cpu_count": self.cpu_count, "loadavg_before": self.loadavg_before,
                "loadavg_after": self.loadavg_after}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Machine:
        return cls(data.get("cpu_count"), data["loadavg_before"], data["loadavg_after"])


#: What a side records of its checkout; the rest of a side is its worker's ``hello``.
_CHECKOUT = ("rev", "commit", "dirty", "path", "describe")


@dataclass(frozen=True)
class Side:
    """One side: its checkout (revision, commit, uncommitted files) and what its worker said of
    itself (``hello``: interpreter, executors, ...), and how its C extensions were built."""

    rev: str | None
    commit: str | None = None
    dirty: Sequence[str] = ()
    path: str | None = None
    describe: str | None = None
    hello: Mapping[str, Any] = field(default_factory=dict)
    build: str | None = None

    @property
    def python(self) -> str | None:
        return self.hello.get("python")

    @property
    def implementation(self) -> str | None:
        return self.hello.get("implementation")

    @property
    def executable(self) -> str | None:
        return self.hello.get("executable")

    @property
    def gil_enabled(self) -> bool:
        return bool(self.hello.get("gil_enabled", True))

    @property
    def executors(self) -> Sequence[str]:
        return self.hello.get("executors", ())

    def to_json(self) -> dict[str, Any]:
        out = {"rev": self.rev, "commit": self.commit, "dirty": list(self.dirty),
               "path": self.path, "describe": self.describe, **self.hello}
        _optional(out, "build", self.build)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Side:
        hello = {k: v for k, v in data.items() if k not in (*_CHECKOUT, "build")}
        return cls(data.get("rev"), data.get("commit"), data.get("dirty") or (),
                   data.get("path"), data.get("describe"), hello, data.get("build"))


@dataclass(frozen=True)
class Incomplete:
    """Why a session stopped before its last case: the signal, the case running, how many
    finished (and were saved)."""

    reason: str
    running: str | None
    finished: int

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "running": self.running, "finished": self.finished}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incomplete:
        return cls(data["reason"], data.get("running"), data.get("finished", 0))


@dataclass(frozen=True)
class AbResult:
    """A whole session: when, where and how, both sides, every case judged, and the outcome."""

    created: str
    duration_seconds: float
    machine: Machine
    settings: Settings
    sides: Pair[Side]
    cases: tuple[CaseResult, ...]
    regression: bool
    incomplete: Incomplete | None = None
    #: The cases not run because an executor refuses their kernel.
    refused: tuple[SkippedCase, ...] = ()
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT, "version": self.version, "created": self.created,
            "duration_seconds": self.duration_seconds, "machine": self.machine.to_json(),
            "settings": self.settings.to_json(),
            "sides": self.sides.to_json(lambda side: side.to_json()),
            "cases": [c.to_json() for c in self.cases], "regression": self.regression}
        if self.incomplete is not None:
            out["incomplete"] = self.incomplete.to_json()
        if self.refused:
            out["refused"] = [r.to_json() for r in self.refused]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AbResult:
        """``KeyError``, ``TypeError`` or ``ValueError`` when a field is missing or malformed."""
        incomplete = data.get("incomplete")
        return cls(created=data.get("created", ""), duration_seconds=data["duration_seconds"],
                   machine=Machine.from_json(data["machine"]),
                   settings=Settings.from_json(data["settings"]),
                   sides=Pair.from_json(data["sides"], Side.from_json),
                   cases=tuple(CaseResult.from_json(c) for c in data["cases"]),
                   regression=bool(data["regression"]),
                   incomplete=Incomplete.from_json(incomplete) if incomplete else None,
                   refused=tuple(SkippedCase.from_json(r) for r in data.get("refused") or ()),
                   version=data.get("version", VERSION))

    @property
    def pinned(self) -> bool:
        """Whether rounds say which CPU both halves started on."""
        return any(r.cpu is not None for c in self.cases for r in c.rounds)

    @property
    def in_instances(self) -> bool:
        """Whether rounds came in instances (fresh processes a side), version 2."""
        return any(r.instance is not None for c in self.cases for r in c.rounds)


def find_ab(spec: str, results: Path) -> Path:
    """``spec`` as a path, or ``latest``: the newest ``results/ab/*.json``."""
    if spec != "latest":
        return Path(spec)
    saved = sorted((results / "ab").glob("*.json"))
    if not saved:
        raise SavedAbError(f"no saved A/B comparison in {results / 'ab'}: run `make ab` first")
    return saved[-1]  # names start with the UTC time of the run


def load_ab(path: Path) -> AbResult:
    """The saved comparison; ``SavedAbError`` when it is missing or not one."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SavedAbError(f"no saved A/B comparison at {path}") from None
    except (OSError, ValueError) as exc:
        raise SavedAbError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or data.get("version") not in VERSIONS:
        raise SavedAbError(f"{path} is not a saved A/B comparison (format {FORMAT}, version "
                           f"{', '.join(map(str, VERSIONS))})")
    return AbResult.from_json(data)
