"""Every unit the benchmarks read or print: sizes, durations, fractions, bytes, times, ratios.

One module so that ``1MiB`` means the same on the command line, in a saved run's case names and
in the report, and so that a figure is spelled the same wherever it appears. Two printing styles
exist on purpose, both with three significant digits:

- compact, for terminal lines (run summary, ``make compare``, skip reasons): ``191us``, ``4.1MiB``
  (:func:`format_time`, :func:`format_bytes`);
- spaced, for the Markdown report and plots: ``191 µs``, ``4.10 MiB``, ``1.75×``
  (:func:`format_time_spaced`, :func:`format_bytes_spaced`, :func:`format_ratio`, ...).

Exact sizes (``64MiB``: what a text size is called in case names, Make variables and section
titles) are :func:`parse_size` and :func:`format_size`, which round-trip.
"""

from __future__ import annotations

import math
import re

# --- exact sizes -------------------------------------------------------------------------------

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "kb": 10**3,
    "m": 1 << 20, "mib": 1 << 20, "mb": 10**6,
    "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes in ``"64MiB"``, ``"500kB"``, ``"1.5GiB"``, ``"64M"`` (binary) or ``"1000"``.

    SI prefixes with ``B`` are decimal (``kB``, ``MB``, ``GB``); ``KiB``/``MiB``/``GiB`` and the
    bare ``K``/``M``/``G`` are binary, as in GNU tools. The result must be a whole number of bytes.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a size: {text!r} (expected e.g. '64MiB', '500kB' or '1000')")
    number, unit = match.groups()
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown size unit {unit!r} in {text!r}; "
                         "use B, kB, MB, GB, KiB, MiB, GiB (or K, M, G for binary)")
    whole, _, frac = number.partition(".")
    numerator = int((whole or "0") + frac) * factor
    denominator = 10 ** len(frac)
    if numerator % denominator:
        raise ValueError(f"size {text!r} is not a whole number of bytes")
    return numerator // denominator


def format_size(n: int) -> str:
    """The shortest exact spelling of ``n`` bytes that :func:`parse_size` reads back, e.g.
    ``67108864 -> "64MiB"``, ``500000 -> "500kB"``, ``1234 -> "1234B"``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"size must be a non-negative int, got {n!r}")
    best = f"{n}B"
    for unit, factor in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
                         ("kB", 10**3), ("MB", 10**6), ("GB", 10**9), ("TB", 10**12)):
        if n and n % factor == 0:
            spelled = f"{n // factor}{unit}"
            if len(spelled) < len(best):
                best = spelled
    return best


# --- other inputs ------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """Seconds in ``"5ms"``, ``"200us"``, ``"1s"`` or ``"0.005"``; ``ValueError`` when negative."""
    number, factor = text, 1.0
    for unit, scale in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0)):
        if text.endswith(unit):
            number, factor = text[: -len(unit)], scale
            break
    try:
        value = float(number) * factor
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (e.g. 5ms)") from None
    if value < 0:
        raise ValueError(f"a duration cannot be negative: {text!r}")
    return value


def parse_fraction(text: str) -> float:
    """A fraction from ``"0.5"`` or ``"50%"``; ``ValueError`` when negative."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"not a fraction or percentage: {text!r}") from None
    if value < 0:
        raise ValueError(f"a tolerance cannot be negative: {text!r}")
    return value


# --- compact style: terminal lines -------------------------------------------------------------


def format_time(seconds: float) -> str:
    """Three significant digits in s, ms, us or ns: ``191us``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds * 1e9:.3g}ns"


def format_bytes(n: float) -> str:
    """Three significant digits in binary units, ``4.1MiB``; negative changes keep their unit."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}B"


def format_count(n: float) -> str:
    """An instruction count to 1,000 in millions, ``81.613M`` (``950.1k`` below a million)."""
    if abs(n) >= 1e6:
        return f"{n / 1e6:,.3f}M"
    return f"{n / 1e3:.1f}k"


def format_change(ratio: float) -> str:
    """A ratio as a signed change, two decimals of a percent: ``+2.04%``, ``-0.01%``."""
    return f"{(ratio - 1) * 100:+.2f}%"


def format_gbps(nbytes: float, seconds: float) -> str:
    """Throughput in decimal GB/s, ``5.26 GB/s`` (``inf GB/s`` for a zero time)."""
    return f"{nbytes / seconds / 1e9:.3g} GB/s" if seconds > 0 else "inf GB/s"


# --- spaced style: the Markdown report and its plots -------------------------------------------


def significant(x: float, grouped: bool = False) -> str:
    """Three significant digits, trailing zeros kept, no exponent; thousands grouped on request."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}" if grouped else f"{x:.{decimals}f}"


def format_time_spaced(seconds: float) -> str:
    """A duration in a unit people read at a glance: ``12.3 ms``, ``42.0 µs``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{significant(seconds / scale)} {unit}"
    return f"{significant(seconds / 1e-9)} ns"


def format_bytes_spaced(n: float | None) -> str:
    """Bytes in binary units, ``16.0 MiB``, ``480 B``; ``n/a`` when unknown."""
    if n is None:
        return "n/a"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{significant(n / scale)} {unit}"
    return f"{int(n)} B"


def format_bytes_prose(n: float) -> str:
    """Bytes for a sentence: three significant digits, no trailing zeros: ``8 GiB``, ``2.01 GiB``.
    """
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def format_mbps(bytes_per_second: float) -> str:
    """Throughput as a number of decimal MB/s, thousands grouped: ``4,751`` (no unit)."""
    return significant(bytes_per_second / 1e6, grouped=True)


def format_ratio(x: float | None) -> str:
    """A multiple, ``1.75×``; ``n/a`` when unknown or infinite."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{significant(x, grouped=True)}×"


def format_percent(fraction: float) -> str:
    """A share: whole percent from 1% (``12%``), two significant digits below (``0.00072%``)."""
    if fraction >= 0.01:
        return f"{fraction:.0%}"
    if fraction == 0:
        return "0%"
    return f"{fraction * 100:.2g}%"


def format_time_tick(seconds: float) -> str:
    """A round axis tick needs no trailing zeros: ``20 ms``, ``500 µs``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale * 0.999:
            return f"{seconds / scale:.3g} {unit}"
    return "0"


def format_bytes_tick(value: float) -> str:
    """``4MiB`` on a power-of-two tick, else three significant digits (``3.00 MiB``)."""
    whole = int(value)
    if value > 0 and whole == value and whole & (whole - 1) == 0:
        return format_size(whole)
    return format_bytes_spaced(value) if value > 0 else "0"
