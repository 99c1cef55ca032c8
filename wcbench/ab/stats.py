"""How sure an A/B comparison is: the ratio of median times with a bootstrap interval, a verdict.

Rounds are paired: in round ``i`` BASE and NEW run back to back (A B, then B A in the next round),
so a burst of load on the shared machine tends to hit both halves of a pair. The interval is a
percentile bootstrap that resamples whole rounds (pairs), keeping that correlation, of
``median(new) / median(base)``: medians, because timings on a busy machine are heavy-tailed (a
mean, or a t-test, is at the mercy of one descheduled round). A/A runs chose the paired resampling
(README, "A/B comparisons"). When rounds come in instances (fresh processes a side), each
instance's own ratio of medians is the unit: the median of those, and a bootstrap over instances.

Instruction counts (``wcbench ab --measure instructions``) vary little and have no load to pair
against: :func:`count_interval` gives the ratio of median counts and its whole range over every
pair of calls, no bootstrap.

Verdicts against a threshold ``t`` (0.10 for 10%), on the interval ``[low, high]``:
``slower`` when ``low > 1 + t``, ``faster`` when ``high < 1 / (1 + t)``, ``same`` when the
interval lies inside ``[1 / (1 + t), 1 + t]``, else ``inconclusive``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Bootstrap resamples: enough that the interval's ends move by well under 1% between seeds.
RESAMPLES = 4000
#: Two-sided confidence of the interval.
CONFIDENCE = 0.95

SLOWER, FASTER, SAME, INCONCLUSIVE = "slower", "faster", "same", "inconclusive"


@dataclass(frozen=True)
class RatioInterval:
    """``median(new) / median(base)`` and its bootstrap interval."""

    ratio: float
    low: float
    high: float
    rounds: int

    def as_dict(self) -> dict[str, float | int]:
        return {"ratio": self.ratio, "low": self.low, "high": self.high, "rounds": self.rounds}


def ratio_interval(base: Sequence[float], new: Sequence[float], *, paired: bool = True,
                   groups: Sequence[int] | None = None, resamples: int = RESAMPLES,
                   confidence: float = CONFIDENCE, seed: int = 0) -> RatioInterval:
    """The ratio of medians ``new / base`` with a percentile bootstrap interval.

    ``paired``: ``base[i]`` and ``new[i]`` are one round and are resampled together (they must be
    equally long); otherwise each side is resampled on its own. ``groups`` (paired only): the
    instance each round ran in (a fresh process a side). Then each instance gives its own ratio
    of medians, the ratio is the median of those, and the bootstrap draws instances: how one
    process happens to be laid out in memory (a few percent, fixed for its life, sometimes a
    slow regime of 40%) widens the interval instead of passing for the code's effect, and an
    instance whose two sides fell into different regimes counts once, not round by round.
    """
    a = np.asarray(base, dtype=float)
    b = np.asarray(new, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError("a ratio interval needs at least two rounds a side")
    if paired and a.size != b.size:
        raise ValueError(f"paired rounds must be as many a side: {a.size} and {b.size}")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("times must be positive")
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2 * 100
    if groups is not None:
        ratios = instance_ratios(a, b, groups)
        drawn = rng.integers(0, ratios.size, (resamples, ratios.size))
        low, high = np.percentile(np.median(ratios[drawn], axis=1), [tail, 100 - tail])
        return RatioInterval(float(np.median(ratios)), float(low), float(high), int(a.size))
    ia = rng.integers(0, a.size, (resamples, a.size))
    ib = ia if paired else rng.integers(0, b.size, (resamples, b.size))
    ratios = np.median(b[ib], axis=1) / np.median(a[ia], axis=1)
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return RatioInterval(float(np.median(b) / np.median(a)), float(low), float(high),
                         int(min(a.size, b.size)))


def instance_ratios(base: np.ndarray, new: np.ndarray, groups: Sequence[int]) -> np.ndarray:
    """Each instance's ``median(new) / median(base)`` over its own rounds."""
    g = np.asarray(groups)
    if g.size != base.size:
        raise ValueError(f"groups must name the instance of each of the {base.size} rounds")
    names = np.unique(g)
    if names.size < 2:
        raise ValueError("grouped rounds need at least two instances")
    return np.array([np.median(new[g == k]) / np.median(base[g == k]) for k in names])


def count_interval(base: Sequence[int], new: Sequence[int]) -> RatioInterval:
    """``median(new) / median(base)`` of instruction counts, with the range of NEW/BASE over
    every pair of calls (``min(new) / max(base)`` to ``max(new) / min(base)``): the spread the
    counts really had, whole. ``rounds``: the calls a side (as many each)."""
    if len(base) != len(new) or len(base) < 2:
        raise ValueError(f"counts need as many calls a side, two or more: {len(base)} and "
                         f"{len(new)}")
    if min(base) <= 0 or min(new) <= 0:
        raise ValueError("instruction counts must be positive")
    a, b = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    return RatioInterval(float(np.median(b) / np.median(a)), float(b.min() / a.max()),
                         float(b.max() / a.min()), len(base))


def verdict(interval: RatioInterval, threshold: float) -> str:
    """``slower``, ``faster``, ``same`` or ``inconclusive`` (see the module docstring)."""
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    upper, lower = 1 + threshold, 1 / (1 + threshold)
    if interval.low > upper:
        return SLOWER
    if interval.high < lower:
        return FASTER
    if lower <= interval.low and interval.high <= upper:
        return SAME
    return INCONCLUSIVE

