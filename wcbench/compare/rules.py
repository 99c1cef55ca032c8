"""When a memory figure's growth is a regression: one rule set for every comparison.

``wcbench compare`` (two saved runs), the memory table of ``pytest --benchmark-compare`` and
``wcbench ab``'s memory verdicts all judge with :func:`judge`, so a figure that fails in one fails
in the others. A figure grew past its limit when ``new - reference > max(reference * relative,
floor, text_bytes * floor_text)`` (a :class:`Tolerance`): ``relative`` absorbs what scales with
the figure, the floors what does not.

Each figure is judged at the noise it shows where it is read, not at one tolerance for all: the
bytes copied (counted, never measured) and the parent's and workers' peaks where they are read
exactly (``EXACT_EXECUTORS``) tightly; the sampled tree peak, and peaks that scheduling shapes
(threads, subinterpreters, a pool, Dask), at a wide tolerance, and said so wherever printed.
The tree peak's reference is BASE's tree peak or BASE's parent plus workers peaks (each exact),
whichever is larger: the most BASE's tree could have held had everything overlapped. The A/A
runs and sessions the tolerances come from are in ``docs/comparing-runs.md`` ("The memory
tolerances, measured").
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from wcbench.record import (
    COPIED_BYTES,
    EXACT_FIGURES,
    EXECUTOR,
    MEMORY_KEYS,
    PEAK_PARENT_BYTES,
    PEAK_TREE_BYTES,
    PEAK_WORKERS_BYTES,
    TEXT_BYTES,
    memory_figures,
)
from wcbench.units import format_bytes, parse_fraction

#: Short names (``--memory-compare-fail=parent:10%``, table headers) -> ``extra_info`` keys.
FIGURES: dict[str, str] = {
    "parent": PEAK_PARENT_BYTES,
    "workers": PEAK_WORKERS_BYTES,
    "tree": PEAK_TREE_BYTES,
    "copied": COPIED_BYTES,
}
SHORT: dict[str, str] = {key: short for short, key in FIGURES.items()}
#: Executors whose parent's and workers' peaks repeat: a fixed set of processes (or none), and no
#: threads sharing one heap.
EXACT_EXECUTORS = frozenset({"serial", "processes", "shared-memory"})
EXACT_KEYS = frozenset({PEAK_PARENT_BYTES, PEAK_WORKERS_BYTES})


@dataclass(frozen=True)
class Tolerance:
    """Growth of one figure that passes: ``new - reference <= max(reference * relative, floor,
    text_bytes * floor_text)`` (what grows past it "grew past its limit", as the output says)."""

    relative: float
    floor: int
    floor_text: float = 0.0

    def allowed(self, reference: float, text_bytes: float = 0.0) -> float:
        return max(reference * self.relative, self.floor, text_bytes * self.floor_text)

    def grew(self, base: float, new: float, text_bytes: float = 0.0) -> bool:
        return new - base > self.allowed(base, text_bytes)

    def describe(self) -> str:
        """``+25% and 1.5MiB`` (``and 1 x the text`` when it has that floor)."""
        text = f"+{self.relative:.0%} and {format_bytes(self.floor)}"
        return text + (f" and {self.floor_text:g} x the text" if self.floor_text else "")


COPIED = Tolerance(0.01, 4 << 10)
PARENT = Tolerance(0.25, 1536 << 10)
WORKERS = Tolerance(0.10, 2 << 20)
#: Figures that are not exact: sampled, or shaped by scheduling.
WIDE = Tolerance(1.5, 48 << 20, 1.0)


@dataclass(frozen=True)
class Rules:
    """The tolerances in force: the defaults above, or what a command line changed."""

    copied: Tolerance = COPIED
    parent: Tolerance = PARENT
    workers: Tolerance = WORKERS
    wide: Tolerance = WIDE

    def tolerance(self, key: str, executor: str | None,
                  exact: Collection[str] = ()) -> tuple[Tolerance, bool]:
        """The tolerance of figure ``key`` of a case run by ``executor`` (or of a command or
        benchmark whose record lists the figures it read ``exact``), and whether the figure is
        exact."""
        if key == COPIED_BYTES:
            return self.copied, True
        if key in EXACT_KEYS and (executor in EXACT_EXECUTORS or key in exact):
            return (self.parent if key == PEAK_PARENT_BYTES else self.workers), True
        return self.wide, False

    def with_relative(self, overrides: Mapping[str, float]) -> Rules:
        """These rules with the relative tolerance of some figures replaced (``{"copied": 0.01}``);
        floors stay: they are the noise. ``tree`` replaces the wide tolerance's."""
        changed = {"copied": self.copied, "parent": self.parent, "workers": self.workers,
                   "tree": self.wide}
        for short, relative in overrides.items():
            changed[short] = replace(changed[short], relative=relative)
        return Rules(changed["copied"], changed["parent"], changed["workers"], changed["tree"])

    def describe(self) -> list[str]:
        """The rules as lines, for the header of a comparison."""
        return [
            f"exact: copied {self.copied.describe()}; parent's peak {self.parent.describe()}, "
            f"workers' peaks {self.workers.describe()} (serial, processes, shared-memory)",
            f"not exact (~): tree peak (sampled), and parent's and workers' peaks of threads, "
            f"process-pool and dask (scheduling decides what coexists): {self.wide.describe()}",
        ]


@dataclass(frozen=True)
class Judgement:
    """One memory figure of one benchmark in both runs."""

    key: str
    base: float
    new: float
    #: What NEW may grow from (BASE's figure; for the tree peak, see the module docstring).
    reference: float
    allowed: float
    exact: bool
    #: The tolerance it was judged by.
    tolerance: Tolerance

    @property
    def regression(self) -> bool:
        return self.new - self.reference > self.allowed

    @property
    def ratio(self) -> float | None:
        """``new / base``; None when the base is zero."""
        return self.new / self.base if self.base else None


def reference(base: Mapping[str, float], key: str) -> float:
    """What a BASE figure allows NEW to grow from (the tree peak's: see the module docstring)."""
    if key == PEAK_TREE_BYTES:
        return max(base[key], base.get(PEAK_PARENT_BYTES, 0.0) + base.get(PEAK_WORKERS_BYTES, 0.0))
    return base[key]


def judge(base_info: Mapping[str, object], new_info: Mapping[str, object],
          rules: Rules | None = None) -> list[Judgement]:
    """Every memory figure present in both ``extra_info``, judged by ``rules`` (the defaults).
    The executor and text size are BASE's."""
    rules = rules or Rules()
    base, new = memory_figures(base_info), memory_figures(new_info)
    executor = base_info.get(EXECUTOR)
    exact = tuple(base_info.get(EXACT_FIGURES) or ())  # type: ignore[arg-type]
    text_bytes = float(base_info.get(TEXT_BYTES) or 0)  # type: ignore[arg-type]
    result = []
    for key in MEMORY_KEYS:
        if key in base and key in new:
            tolerance, is_exact = rules.tolerance(key, executor, exact)  # type: ignore[arg-type]
            ref = reference(base, key)
            result.append(Judgement(key, base[key], new[key], ref,
                                    tolerance.allowed(ref, text_bytes), is_exact, tolerance))
    return result


def parse_fail_spec(text: str) -> dict[str, float]:
    """``copied:1%,parent:10%`` -> ``{"copied": 0.01, "parent": 0.1}``; ``argparse``'s
    ``ArgumentTypeError`` (a usage error) when malformed."""
    checks: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, pct = part.partition(":")
        if not sep or name not in FIGURES:
            raise argparse.ArgumentTypeError(
                f"{part!r}: expected FIGURE:PCT with FIGURE one of {', '.join(FIGURES)} "
                "(e.g. copied:1%)")
        try:
            value = parse_fraction(pct)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{part!r}: {exc}") from None
        checks[name] = value
    if not checks:
        raise argparse.ArgumentTypeError("expected FIGURE:PCT[,FIGURE:PCT...]")
    return checks
