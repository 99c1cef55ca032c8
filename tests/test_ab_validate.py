"""``make ab-validate``'s own parts: the slowdowns it commits, their calibration, its summary.

The validation itself (tens of minutes of ``make ab``) is run by hand and its figures are in the
README; these tests hold what those figures rest on: the slowed numpy kernel still counts exactly
and does exactly the extra work it claims, the calibration loop converges on what it measures,
and the summary counts verdicts as they were saved.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wcbench.ab import validate as ab_validate
from wcbench.ab.result import AbResult
from wcbench.ab.stats import RatioInterval
from wordcount.kernels.numpy_kernel import count_numpy

TEXT = "naïve café ünïcode 中文 词 \u3000 tab\there\nnew\u2028line  end ".encode() * 7


def slowed(fraction: float, kernel: Callable[..., int] = count_numpy) -> Callable[..., int]:
    """The numpy kernel as the ``numpy15`` commit leaves it, over ``kernel``."""
    return ab_validate.slowed_kernel(fraction, kernel)


@pytest.mark.parametrize("fraction", [0.0, 0.15, 0.37, 1.0])
def test_the_slowed_kernel_counts_exactly_wherever_its_second_pass_ends(fraction: float) -> None:
    kernel = slowed(fraction)
    text = TEXT.decode()
    starts = [i for i in range(len(TEXT)) if TEXT[i] & 0xC0 != 0x80]  # character boundaries
    for start in starts[::3]:
        for end in [*starts[start % 5::11], len(TEXT)]:
            if end >= start:
                expected = len(TEXT[start:end].decode().split())
                assert kernel(TEXT, start, end) == expected
                assert kernel(memoryview(bytearray(TEXT)), start, end) == expected
    assert kernel(text) == len(text.split())
    assert kernel(text, 3, 40) == len(text[3:40].split())


def test_the_second_pass_covers_the_fraction_asked_from_the_span_start() -> None:
    calls: list[tuple[int, int | None]] = []

    def recorder(data: object, start: int = 0, end: int | None = None, **options: object) -> int:
        calls.append((start, end))
        return count_numpy(data, start, end, **options)

    kernel = slowed(0.25, recorder)
    ascii_text = b"ab cd " * 100
    assert kernel(ascii_text, 100, 500) == len(ascii_text[100:500].split())
    assert calls == [(100, 500), (100, 200)]
    calls.clear()
    kernel(TEXT)
    (first, second) = calls
    assert first == (0, None)
    assert second[0] == 0 and 0 <= len(TEXT) // 4 - second[1] < 4  # backed off to a boundary
    assert TEXT[second[1]] & 0xC0 != 0x80


def test_calibration_corrects_the_fraction_by_what_it_measures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a kernel whose time is 0.05 fixed + linear in what it counts: 15% counted again -> +12%
    seen: list[float] = []

    def measure(fraction: float, text: bytes) -> RatioInterval:
        seen.append(fraction)
        ratio = 1 + 0.8 * fraction
        return RatioInterval(ratio, ratio - 0.01, ratio + 0.01, 101)

    monkeypatch.setattr(ab_validate, "measure_numpy_slowdown", measure)
    fraction, measured = ab_validate.calibrate_numpy_slowdown(b"", target=0.15, tolerance=0.005)
    assert seen[0] == 0.15
    assert fraction == pytest.approx(0.15 / 0.8, rel=0.01)
    assert abs(measured.ratio - 1.15) <= 0.005
    monkeypatch.setattr(ab_validate, "measure_numpy_slowdown",
                        lambda f, t: RatioInterval(1.0, 0.9, 1.1, 101))  # nothing moves it
    with pytest.raises(RuntimeError, match="never came within"):
        ab_validate.calibrate_numpy_slowdown(b"", attempts=3)


def test_measuring_a_slowdown_times_both_kernels_in_pairs_on_the_same_text() -> None:
    measured = ab_validate.measure_numpy_slowdown(1.0, b"word " * 20_000, pairs=5)
    assert measured.rounds == 5
    assert measured.low <= measured.ratio <= measured.high


def _run(scenario_cases: list[tuple[str, str, float, float]], exit_status: int,
         threshold: float | None = None) -> dict:
    """A run as ``run_once`` returns it, its result a saved A/B's (``threshold``: the cases'
    own, None where the file does not say)."""
    return {"exit": exit_status, "seconds": 100.0, "result": AbResult.from_json({
        "duration_seconds": 100.0, "settings": {}, "regression": exit_status == 1,
        "sides": {"base": {}, "new": {}},
        "machine": {"loadavg_before": [0.5, 0, 0], "loadavg_after": [1.5, 0, 0]},
        "cases": [{"name": name, "verdict": v, "executor": "serial", "start_method": None,
                   "interval": {"ratio": ratio, "low": ratio - w / 2, "high": ratio + w / 2},
                   "rounds": [{"base": 0.1, "new": 0.1, "first": "base"}] * 30,
                   **({"threshold": threshold} if threshold is not None else {})}
                  for name, v, ratio, w in scenario_cases]})}


def test_summary_counts_each_cases_verdicts_and_the_slowdown_it_could_call() -> None:
    cases = [([("a", "slower", 1.15, 0.04)], 1), ([("a", "inconclusive", 1.13, 0.08)], 0),
             ([("a", "slower", 1.16, 0.06)], 1)]
    runs = {"numpy15": [_run(*case) for case in cases]}
    summary = ab_validate.summarise(runs)["numpy15"]
    assert summary["exits"] == {1: 2, 0: 1}
    assert summary["load"] == [0.5, 1.5]
    case = summary["cases"]["a"]
    assert case["verdicts"] == {"slower": 2, "inconclusive": 1}
    assert case["median_ratio"] == 1.15
    assert case["median_width"] == pytest.approx(0.06)
    assert case["smallest_callable"] == 1.13
    assert case["median_rounds"] == 30
    assert "a: 1 inconclusive, 2 slower" in "\n".join(ab_validate.format_summary(
        ab_validate.summarise(runs)))
    runs = {"numpy15": [_run(*case, threshold=0.20) for case in cases]}  # a threads case
    assert ab_validate.summarise(runs)["numpy15"]["cases"]["a"]["smallest_callable"] == 1.23


def test_start_delays_are_the_share_of_base_medians_per_start_method() -> None:
    runs = [{"result": AbResult.from_json({
        "duration_seconds": 100.0, "settings": {}, "regression": False,
        "sides": {"base": {}, "new": {}},
        "machine": {"loadavg_before": [0.5, 0, 0], "loadavg_after": [1.5, 0, 0]},
        "cases": [
            {"name": "s", "verdict": "same", "executor": "processes", "start_method": "spawn",
             "median": {"base": b}},
            {"name": "f", "verdict": "same", "executor": "processes", "start_method": "fork",
             "median": {"base": b / 10}},
            {"name": "x", "verdict": "same", "executor": "serial", "start_method": None,
             "median": {"base": 9.0}}]})}
        for b in (0.4, 0.5, 0.6)]
    assert ab_validate.start_delays(runs, 0.30) == {"SpawnProcess": 0.15, "ForkProcess": 0.015}


def test_scenarios_are_named_by_kind_and_percent() -> None:
    assert ab_validate.parse_scenario("aa") == ("aa", 0.0)
    assert ab_validate.parse_scenario("numpy15") == ("numpy", 0.15)
    assert ab_validate.parse_scenario("start30") == ("start", 0.30)
    for bad in ("numpy", "numpy0", "start100", "bb", "numpy15x"):
        with pytest.raises(ValueError, match="unknown scenario"):
            ab_validate.parse_scenario(bad)
