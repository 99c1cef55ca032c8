"""``wcbench.units``: every unit read or printed, exact figures for each spelling.

Sizes (``parse_size``/``format_size``) are also checked through ``wcbench.corpus``, which
re-exports them, in ``tests/test_corpus.py``.
"""

from __future__ import annotations

import pytest

from wcbench import units


@pytest.mark.parametrize(("value", "text"), [(0.0123, "12.3 ms"), (1.5, "1.50 s"),
                                              (4.2e-5, "42.0 µs"), (3e-8, "30.0 ns")])
def test_format_time_spaced(value: float, text: str) -> None:
    assert units.format_time_spaced(value) == text


@pytest.mark.parametrize(("value", "text"), [(0.0123, "12.3ms"), (1.5, "1.5s"),
                                              (4.2e-5, "42us"), (3e-8, "30ns")])
def test_format_time_compact(value: float, text: str) -> None:
    assert units.format_time(value) == text


def test_spaced_bytes_rate_ratio_percent() -> None:
    assert units.format_bytes_spaced(16 << 20) == "16.0 MiB"
    assert units.format_bytes_spaced(480) == "480 B"
    assert units.format_bytes_spaced(None) == "n/a"
    assert units.format_mbps(4_751_000_000) == "4,751"
    assert units.format_ratio(57.94) == "57.9×"
    assert units.format_ratio(None) == "n/a"
    assert units.format_ratio(float("inf")) == "n/a"
    assert units.format_percent(1.0004) == "100%"
    assert units.format_percent(7.2e-6) == "0.00072%"
    assert units.format_percent(0) == "0%"


def test_compact_bytes_and_throughput() -> None:
    assert units.format_bytes(4.1 * (1 << 20)) == "4.1MiB"
    assert units.format_bytes(-3 << 30) == "-3GiB"
    assert units.format_bytes(512) == "512B"
    assert units.format_gbps(1 << 30, 0.2) == "5.37 GB/s"
    assert units.format_gbps(1, 0) == "inf GB/s"


def test_axis_ticks() -> None:
    assert units.format_time_tick(0.02) == "20 ms"
    assert units.format_time_tick(5e-4) == "500 µs"
    assert units.format_time_tick(0) == "0"
    assert units.format_bytes_tick(4 << 20) == "4MiB"
    assert units.format_bytes_tick(3 << 20) == "3.00 MiB"
    assert units.format_bytes_tick(0) == "0"


@pytest.mark.parametrize(("text", "seconds"), [("5ms", 0.005), ("200us", 2e-4), ("1s", 1.0),
                                                ("0.005", 0.005), ("2", 2.0)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert units.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "message"), [("fast", "not a duration"),
                                                ("-5ms", "cannot be negative")])
def test_parse_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_duration(text)


@pytest.mark.parametrize(("text", "fraction"), [("25%", 0.25), ("0.4", 0.4), ("150%", 1.5)])
def test_parse_fraction(text: str, fraction: float) -> None:
    assert units.parse_fraction(text) == pytest.approx(fraction)


@pytest.mark.parametrize(("text", "message"), [("half", "not a fraction"),
                                                ("-5%", "cannot be negative")])
def test_parse_fraction_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_fraction(text)


def test_sizes_round_trip_and_corpus_keeps_its_names() -> None:
    from wcbench import corpus

    assert units.parse_size("1MiB") == 1 << 20 and units.format_size(1 << 20) == "1MiB"
    assert corpus.parse_size is units.parse_size and corpus.format_size is units.format_size
