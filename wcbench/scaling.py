"""How each strategy's cost grows with the text: lines fitted over the sizes a run measured.

For one strategy (kernel, executor, start method, workers) measured at several text sizes ``n``:

- peak memory of the process tree = ``fixed + per_byte * n`` (``fixed``: interpreters, buffers;
  ``per_byte``: copies of the text, 1.0 being one full copy; ``str.split()``'s lists about 11);
- median time = ``start-up + per_byte * n`` (reported as seconds per GB).

Sizes 4x apart from 1 MiB to 8 GiB span four decades, so an ordinary least-squares line would
answer to the biggest sizes only and leave the fixed term to chance. Each point is weighted by
the inverse of its expected noise, ``1 / (y + floor)``: noise is relative (a share of the figure)
above an absolute floor (a few MiB of allocator noise, a millisecond of scheduling), so every size
counts alike. Costs cannot be negative: where the unconstrained fit gives a negative term (a
strategy with no fixed cost, measured with noise), that term is set to zero and the other refitted.
How well it fits: ``r2``, the weighted coefficient of determination, and ``worst_residual``, the
largest ``|measured - fitted| / (measured + floor)``.

Pure functions over measured cases (:class:`wcbench.record.MeasuredCase`: a saved run's, or
built in a test), so the report, tests and anyone else can use them without a saved run on disk.
The report's sentences about the fits are the report's (:mod:`wcbench.report.findings`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from wcbench.record import MeasuredCase

#: Absolute noise floors of the weights: memory figures move by a few MiB between identical calls,
#: times of a millisecond are at the scheduler's mercy.
MEMORY_FLOOR_BYTES = 4 << 20
TIME_FLOOR_SECONDS = 1e-3
#: Fewest distinct sizes a line is fitted over (two points always fit exactly; three show whether
#: a line is the right shape at all).
MIN_SIZES = 3


@dataclass(frozen=True)
class Line:
    """``y = fixed + per_byte * n``, with how well it fits the points it came from."""

    fixed: float
    per_byte: float
    r2: float
    worst_residual: float
    sizes: tuple[int, ...]

    def at(self, nbytes: float) -> float:
        """The fitted figure at ``nbytes`` of text."""
        return self.fixed + self.per_byte * nbytes


def fit_line(sizes: Sequence[float], values: Sequence[float], floor: float) -> Line:
    """Weighted, non-negative least squares of ``values`` against ``sizes`` (see the module doc).

    ``ValueError`` with fewer than two distinct sizes or mismatched lengths.
    """
    x = np.asarray(sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"sizes and values must be equal-length lists, got {x.shape} {y.shape}")
    if len(np.unique(x)) < 2:
        raise ValueError("a line needs at least two distinct sizes")
    w = 1.0 / (np.maximum(y, 0.0) + floor)
    design = np.column_stack([np.ones_like(x), x]) * w[:, None]
    coef = np.linalg.lstsq(design, y * w, rcond=None)[0]
    if coef.min() < 0:  # the best fit with that term at zero: one column alone
        keep = int(np.argmax(coef))
        col = design[:, keep]
        coef = np.zeros(2)
        coef[keep] = max(float(col @ (y * w) / (col @ col)), 0.0)
    fitted = coef[0] + coef[1] * x
    resid = (y - fitted) * w
    centred = (y - np.average(y, weights=w**2)) * w
    total = float(centred @ centred)
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else 1.0
    return Line(float(coef[0]), float(coef[1]), r2, float(np.abs(resid).max()),
                tuple(int(s) for s in sorted(set(x.tolist()))))


@dataclass(frozen=True)
class StrategyFit:
    """One strategy's lines: memory (bytes) and time (seconds) against text bytes."""

    kernel: str
    executor: str
    start_method: str | None
    workers: int
    memory: Line
    time: Line

    @property
    def name(self) -> str:
        """``numpy-processes-spawn w2``, as the run summary names strategies."""
        parts = [self.kernel, self.executor] + ([self.start_method] if self.start_method else [])
        return "-".join(parts) + f" w{self.workers}"

    @property
    def seconds_per_gb(self) -> float:
        return self.time.per_byte * 1e9


def strategy_key(case: MeasuredCase) -> tuple[str, str, str | None, int]:
    """``(kernel, executor, start_method, workers)``: the strategy a line is fitted for."""
    return case.kernel, case.executor, case.start_method, case.workers


def fit_strategies(cases: Iterable[MeasuredCase],
                   min_sizes: int = MIN_SIZES) -> list[StrategyFit]:
    """A memory line and a time line per strategy measured at ``min_sizes`` sizes or more.

    ``cases``: measured cases with a tree peak (``peak_tree_bytes`` not None). Ordered by
    kernel, then by cost per byte of memory.
    """
    groups: dict[tuple, list[MeasuredCase]] = {}
    for case in cases:
        groups.setdefault(strategy_key(case), []).append(case)
    fits = []
    for key, points in groups.items():
        if len({p.text_bytes for p in points}) < min_sizes:
            continue
        sizes = [p.text_bytes for p in points]
        memory = fit_line(sizes, [p.peak_tree_bytes or 0 for p in points], MEMORY_FLOOR_BYTES)
        time = fit_line(sizes, [p.median for p in points], TIME_FLOOR_SECONDS)
        fits.append(StrategyFit(*key, memory=memory, time=time))
    return sorted(fits, key=lambda f: (f.kernel, f.memory.per_byte, f.name))


def capacity_bytes(fit: StrategyFit, memory_bytes: int) -> int:
    """The largest text whose fitted peak fits in ``memory_bytes`` beside the text itself.

    The text is held once by the caller (the tree peak is growth beyond it), so a text ``n`` needs
    ``n + fixed + per_byte * n``.
    """
    room = memory_bytes - fit.memory.fixed
    return max(int(room / (1.0 + fit.memory.per_byte)), 0)
