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

Pure functions over plain data (the benchmarks' ``extra_info`` with their median), so the report,
tests and anyone else can use them without a saved run on disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from wcbench.units import format_bytes_prose as _bytes

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


def strategy_key(info: Mapping) -> tuple[str, str, str | None, int]:
    """``(kernel, executor, start_method, workers)`` of a benchmark's ``extra_info``."""
    return info["kernel"], info["executor"], info.get("start_method"), int(info["workers"])


def fit_strategies(cases: Iterable[Mapping], min_sizes: int = MIN_SIZES) -> list[StrategyFit]:
    """A memory line and a time line per strategy measured at ``min_sizes`` sizes or more.

    ``cases``: dicts with ``text_bytes``, ``peak_tree_bytes``, ``median`` (seconds) and the
    strategy's ``kernel``, ``executor``, ``start_method``, ``workers``. Ordered by kernel, then
    by cost per byte of memory.
    """
    groups: dict[tuple, list[Mapping]] = {}
    for case in cases:
        groups.setdefault(strategy_key(case), []).append(case)
    fits = []
    for key, points in groups.items():
        if len({p["text_bytes"] for p in points}) < min_sizes:
            continue
        sizes = [p["text_bytes"] for p in points]
        memory = fit_line(sizes, [p["peak_tree_bytes"] for p in points], MEMORY_FLOOR_BYTES)
        time = fit_line(sizes, [p["median"] for p in points], TIME_FLOOR_SECONDS)
        fits.append(StrategyFit(*key, memory=memory, time=time))
    return sorted(fits, key=lambda f: (f.kernel, f.memory.per_byte, f.name))


def capacity_bytes(fit: StrategyFit, memory_bytes: int) -> int:
    """The largest text whose fitted peak fits in ``memory_bytes`` beside the text itself.

    The text is held once by the caller (the tree peak is growth beyond it), so a text ``n`` needs
    ``n + fixed + per_byte * n``.
    """
    room = memory_bytes - fit.memory.fixed
    return max(int(room / (1.0 + fit.memory.per_byte)), 0)


# --- sentences computed from the fits ------------------------------------------------------------

def _largest(cases: Iterable[Mapping], kernel: str, executor: str, method: str | None
             ) -> Mapping | None:
    found = [c for c in cases if (c["kernel"], c["executor"], c.get("start_method"))
             == (kernel, executor, method)]
    return max(found, key=lambda c: c["text_bytes"], default=None)


def _at_size(cases: Iterable[Mapping], kernel: str, executor: str, method: str | None,
             size: int) -> Mapping | None:
    return next((c for c in cases if (c["kernel"], c["executor"], c.get("start_method"),
                                      c["text_bytes"]) == (kernel, executor, method, size)), None)


def seed_claim_sentence(cases: Sequence[Mapping], fits: Sequence[StrategyFit],
                        kernel: str = "numpy") -> str | None:
    """The seed's "8 GB becomes 16 GB", checked at the largest text that ran under spawn.

    ``None`` when no ``processes`` case under spawn ran. The tree peak is growth beyond the text
    the parent already holds, so text and copies together are ``1 + peak / text`` times the text.
    """
    spawn = _largest(cases, kernel, "processes", "spawn")
    if spawn is None:
        return None
    size = spawn["text_bytes"]
    ratio = spawn["peak_tree_bytes"] / size
    slope = {(f.kernel, f.executor, f.start_method): f.memory.per_byte for f in fits}
    fitted = slope.get((kernel, "processes", "spawn"))
    text = (f"The seed's claim, checked: processes under spawn ({kernel} kernel, "
            f"{spawn['workers']} workers) held {_bytes(spawn['peak_tree_bytes'])} for a "
            f"{_bytes(size)} text, {ratio:.2f} x the text")
    text += f" (fitted over every size: {fitted:.2f} per byte)" if fitted is not None else ""
    text += (f", so text and copies together came to {1 + ratio:.2f} x the text, where the seed "
             "said 2 x (8 GB becomes 16 GB)")
    shared = _at_size(cases, kernel, "shared-memory", "spawn", size)
    if shared is not None:
        text += (f"; shared memory under spawn held {shared['peak_tree_bytes'] / size:.2f} x "
                 "(its one block)")
    return text + "."


def growth_parts(kernel: str, executor: str, method: str | None, workers: int) -> list[str]:
    """What grows with the text in this strategy, by the memory estimate's own part names."""
    from wcbench.estimate import estimate_case
    from wcbench.matrix import Case

    small = estimate_case(Case(kernel, executor, method, 1 << 30, workers)).parts
    big = estimate_case(Case(kernel, executor, method, 2 << 30, workers)).parts
    grows = [name for name, value in big.items() if value > small.get(name, 0)]
    return [name.replace("kernel", "word lists") if kernel == "split" else name
            for name in grows]


def _span(values: Sequence[float], fmt) -> str:
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low}-{high}"


def capacity_sentence(fits: Sequence[StrategyFit], memory_bytes: int,
                      skipped: Sequence[Mapping] = ()) -> str | None:
    """Which strategy fits the most text into ``memory_bytes``, and why the others stop earlier.

    Capacity comes from each fitted memory line (the text once, plus fixed, plus per byte x
    text); strategies that stop for the same reason (the same parts of the memory estimate grow
    with the text) are named together.
    """
    if not fits or memory_bytes <= 0:
        return None
    ranked = sorted(fits, key=lambda f: capacity_bytes(f, memory_bytes), reverse=True)
    best = ranked[0]
    most = capacity_bytes(best, memory_bytes)
    tied = [f for f in ranked if capacity_bytes(f, memory_bytes) >= 0.99 * most]  # within 1%
    lines = "their fitted lines" if len(tied) > 1 else "its fitted line"
    text = (f"In this machine's {_bytes(memory_bytes)}, {' and '.join(f.name for f in tied)} "
            f"{'fit' if len(tied) > 1 else 'fits'} the most text: about {_bytes(most)} by "
            f"{lines} (beyond the text itself {best.name} holds {_bytes(best.memory.fixed)} "
            f"plus {best.memory.per_byte:.2f} bytes per byte of text)")
    groups: dict[tuple[str, ...], list[StrategyFit]] = {}
    for fit in ranked[len(tied):]:
        why = tuple(growth_parts(fit.kernel, fit.executor, fit.start_method, fit.workers))
        groups.setdefault(why, []).append(fit)
    others = []
    for why, members in groups.items():
        room = _span([capacity_bytes(f, memory_bytes) for f in members], _bytes)
        per_byte = _span([f.memory.per_byte for f in members], lambda v: f"{v:.2f}")
        others.append(f"{', '.join(f.name for f in members)} about {room} ({per_byte} per byte: "
                      f"{', '.join(why) or 'nothing the estimate expects to grow'})")
    if others:
        text += ". The others stop where what they hold per byte of text runs out of room: "
        text += "; ".join(others)
    if skipped:
        text += (f". {len(skipped)} cases of this run did not run: their estimated peak, or "
                 "time, did not fit (each listed with its estimate)")
    return text + "."
