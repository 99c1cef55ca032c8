"""The cost-model fit (``wcbench.scaling``) on synthetic data whose answer is known, and the
report's sentences about it (``wcbench.report.findings``)."""

from __future__ import annotations

import numpy as np
import pytest

from wcbench import scaling
from wcbench.record import MeasuredCase, SkippedCase
from wcbench.report import findings
from wcbench.results import Benchmark

MIB, GIB = 1 << 20, 1 << 30
SIZES = [MIB << (2 * k) for k in range(6)] + [4 * GIB, 8 * GIB]  # 1 MiB .. 8 GiB, 4x apart


def test_an_exact_line_is_recovered_exactly() -> None:
    values = [20 * MIB + 2.5 * n for n in SIZES]
    line = scaling.fit_line(SIZES, values, scaling.MEMORY_FLOOR_BYTES)
    assert line.fixed == pytest.approx(20 * MIB, rel=1e-6)
    assert line.per_byte == pytest.approx(2.5, rel=1e-9)
    assert line.r2 == pytest.approx(1.0)
    assert line.worst_residual < 1e-9
    assert line.sizes == tuple(SIZES)
    assert line.at(GIB) == pytest.approx(20 * MIB + 2.5 * GIB)


def test_relative_noise_leaves_both_terms_within_a_few_percent() -> None:
    # Both terms matter: 0.3 s of start-up dominates 1 MiB, 7 s/GB dominates 8 GiB.
    rng = np.random.default_rng(7)
    sizes = SIZES * 3
    truth = np.array([0.3 + 7e-9 * n for n in sizes])
    noisy = truth * (1 + rng.uniform(-0.05, 0.05, truth.size))
    line = scaling.fit_line(sizes, noisy, scaling.TIME_FLOOR_SECONDS)
    assert line.fixed == pytest.approx(0.3, rel=0.05)
    assert line.per_byte == pytest.approx(7e-9, rel=0.05)
    assert line.r2 > 0.99
    assert line.worst_residual < 0.1


def test_unweighted_least_squares_would_lose_the_fixed_term() -> None:
    # Why the weights: with absolute residuals the 8 GiB point decides everything and the fixed
    # 20 MiB drowns in its 5% noise; the weighted fit keeps it.
    sizes = np.array(SIZES, dtype=float)
    values = 20 * MIB + 1.0 * sizes
    values[-1] *= 1.05
    ordinary = np.polyfit(sizes, values, 1)[1]
    weighted = scaling.fit_line(sizes, values, scaling.MEMORY_FLOOR_BYTES).fixed
    assert abs(ordinary - 20 * MIB) > 5 * abs(weighted - 20 * MIB)
    assert weighted == pytest.approx(20 * MIB, rel=0.1)


def test_costs_never_come_out_negative() -> None:
    # No fixed cost and a little noise: the unconstrained intercept would dip below zero.
    values = [1.0 * n * (0.97 if i % 2 else 1.03) for i, n in enumerate(SIZES)]
    values[0] = 0.9 * MIB
    line = scaling.fit_line(SIZES, values, scaling.MEMORY_FLOOR_BYTES)
    assert line.fixed >= 0 and line.per_byte == pytest.approx(1.0, rel=0.05)
    # Nothing per byte (threads): a flat line, never a negative slope.
    flat = scaling.fit_line(SIZES, [4 * MIB - (i % 2) * 64 * 1024 for i in range(len(SIZES))],
                            scaling.MEMORY_FLOOR_BYTES)
    assert flat.per_byte >= 0 and flat.at(8 * GIB) < 8 * MIB


def test_a_curve_is_reported_as_a_poor_fit() -> None:
    curved = [n * n / GIB + MIB for n in SIZES]  # per byte grows with the text: not a line
    line = scaling.fit_line(SIZES, curved, scaling.MEMORY_FLOOR_BYTES)
    assert line.worst_residual > 0.5 or line.r2 < 0.9


@pytest.mark.parametrize(("sizes", "values"), [([MIB, MIB], [1, 2]), ([MIB], [1]),
                                               ([MIB, 2 * MIB], [1])])
def test_too_few_sizes_or_mismatched_lists_raise(sizes: list, values: list) -> None:
    with pytest.raises(ValueError):
        scaling.fit_line(sizes, values, 1.0)


def case(executor: str, method: str | None, size: int, peak: float, median: float,
         kernel: str = "numpy", workers: int = 2) -> MeasuredCase:
    return MeasuredCase.from_benchmark(Benchmark.from_json({
        "name": f"{executor}-{method}-{size}", "stats": {"median": median},
        "extra_info": {"kind": "wordcount", "kernel": kernel, "executor": executor,
                       "start_method": method, "workers": workers, "text_bytes": size,
                       "peak_tree_bytes": int(peak)}}))


#: A run as the seed's folklore and the strategies' designs predict it.
RUN = (
    [case("processes", "spawn", n, 40 * MIB + 2.5 * n, 0.3 + 7e-9 * n) for n in SIZES[:7]]
    + [case("shared-memory", "spawn", n, 40 * MIB + 1.0 * n, 0.3 + 1.5e-9 * n) for n in SIZES]
    + [case("threads", None, n, 2 * MIB, 2e-4 + 0.2e-9 * n) for n in SIZES]
    + [case("processes", "fork", n, 8 * MIB + n, 0.01 + 2e-9 * n) for n in SIZES[:2]]
)


def test_each_strategy_gets_its_own_lines_and_few_sizes_get_none() -> None:
    fits = {f.name: f for f in scaling.fit_strategies(RUN)}
    assert set(fits) == {"numpy-processes-spawn w2", "numpy-shared-memory-spawn w2",
                         "numpy-threads w2"}  # fork ran at two sizes only
    spawn = fits["numpy-processes-spawn w2"]
    assert spawn.memory.per_byte == pytest.approx(2.5)
    assert spawn.memory.fixed == pytest.approx(40 * MIB, rel=1e-6)
    assert spawn.seconds_per_gb == pytest.approx(7.0)
    assert spawn.time.fixed == pytest.approx(0.3)
    assert fits["numpy-threads w2"].memory.per_byte == pytest.approx(0.0, abs=1e-9)
    # Ordered by bytes per byte, cheapest first.
    assert [f.executor for f in scaling.fit_strategies(RUN)] == [
        "threads", "shared-memory", "processes"]


def test_capacity_counts_the_text_itself_once() -> None:
    fit = {f.executor: f for f in scaling.fit_strategies(RUN)}["shared-memory"]
    # 24 GiB = n (text) + 40 MiB + 1.0 n  ->  n = (24 GiB - 40 MiB) / 2
    assert scaling.capacity_bytes(fit, 24 * GIB) == pytest.approx((24 * GIB - 40 * MIB) / 2,
                                                                  abs=2)
    assert scaling.capacity_bytes(fit, 10 * MIB) == 0


def test_the_seed_claim_sentence_uses_the_largest_spawn_case() -> None:
    fits = scaling.fit_strategies(RUN)
    sentence = findings.seed_claim_sentence(RUN, fits)
    peak = 40 * MIB + 2.5 * 4 * GIB  # spawn ran up to 4 GiB
    assert f"held {peak / GIB:.3g} GiB for a 4 GiB text" in sentence
    assert f"{peak / (4 * GIB):.2f} x the text" in sentence
    assert "fitted over every size: 2.50 per byte" in sentence
    assert f"came to {1 + peak / (4 * GIB):.2f} x" in sentence
    assert f"shared memory under spawn held {(40 * MIB + 4 * GIB) / (4 * GIB):.2f} x" in sentence
    assert findings.seed_claim_sentence([c for c in RUN if c.start_method != "spawn"],
                                        fits) is None


def test_the_capacity_sentence_names_the_leanest_strategy_and_why_others_stop() -> None:
    fits = scaling.fit_strategies(RUN)
    sentence = findings.capacity_sentence(fits, 24 * GIB, skipped=[SkippedCase("x", "y")])
    assert sentence.startswith("In this machine's 24 GiB, numpy-threads w2 fits the most text: "
                               "about 24 GiB")
    assert "numpy-shared-memory-spawn w2 about 12 GiB (1.00 per byte: parent shared block)" \
        in sentence
    assert "numpy-processes-spawn w2 about 6.85 GiB (2.50 per byte: parent chunk copies, " \
           "parent pickles, 2 x worker received chunk)" in sentence
    assert "1 cases of this run did not run" in sentence
    assert findings.capacity_sentence([], 24 * GIB) is None
