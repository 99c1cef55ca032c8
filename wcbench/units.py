"""Compact human-readable figures for terminal output (``191us``, ``4.1MiB``).

Shared by the run summary, ``make compare`` and the memory estimate's skip reasons; the Markdown
report keeps its own spaced style (``191 µs``).
"""

from __future__ import annotations


def format_time(seconds: float) -> str:
    """Three significant digits in s, ms, us or ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds * 1e9:.3g}ns"


def format_bytes(n: float) -> str:
    """Three significant digits in binary units; negative changes keep their unit."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}B"
