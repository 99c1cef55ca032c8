"""The physical limit of a count: reading the same bytes once, with as many threads as the count.

A kernel cannot count a text faster than the machine reads it, so a benchmark case is put beside
a streaming read of its own buffer, at its own size and number of threads:
``read_limit(raw, threads=2)``. The read is the native extension's ``read_rounds`` (vector loads,
an OR-reduction so the loads cannot be dropped, nothing written, the GIL released, each thread
reading one slice, threads started together at a barrier). Where the extension is not built,
numpy sums the bytes as ``uint64`` instead (in threads, each a slice: numpy releases the GIL),
and the figure says so (``method``): that sum is not a pure read and runs below it.

A buffer smaller than the last-level cache (read from sysfs) is read from the cache round after
round (``level="cache"``); a larger one comes from memory (``level="memory"``).
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

NATIVE = "native streaming read"
FALLBACK = "numpy sum (fallback: the native extension is not built)"
_CACHE_ROOT = Path("/sys/devices/system/cpu/cpu0/cache")


def last_level_cache(root: Path = _CACHE_ROOT) -> int | None:
    """Bytes of the largest-level data or unified cache of CPU 0, or None where sysfs does not
    say (not Linux, or no cache directory)."""
    best: tuple[int, int] | None = None
    for index in sorted(root.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        scale = units.get(size[-1:].upper(), 1)
        try:
            nbytes = int(size[:-1] if size[-1:].upper() in units else size) * scale
        except ValueError:
            continue
        if best is None or level > best[0]:
            best = (level, nbytes)
    return best[1] if best else None


def level_of(nbytes: int, llc: int | None = None) -> str:
    """``"cache"`` for a buffer smaller than the last-level cache, else ``"memory"`` (also where
    the cache's size is unknown)."""
    llc = last_level_cache() if llc is None else llc
    return "cache" if llc is not None and nbytes < llc else "memory"


@dataclass(frozen=True)
class ReadLimit:
    """A streaming read of one buffer: its best and median round."""

    nbytes: int
    threads: int
    seconds: float  # the fastest round
    median_seconds: float
    level: str  # "cache" or "memory"
    method: str  # NATIVE or FALLBACK

    @property
    def gb_per_s(self) -> float:
        return self.nbytes / self.seconds / 1e9

    @property
    def label(self) -> str:
        """E.g. ``"memory read, 2 threads"``; the fallback says it is one."""
        what = f"{self.level} read, {self.threads} thread{'s' if self.threads > 1 else ''}"
        return what if self.method == NATIVE else f"{what} ({self.method})"

    def fraction(self, seconds: float) -> float:
        """How close a count of the same bytes taking ``seconds`` comes to the read (1 = as
        fast as reading)."""
        return self.seconds / seconds


def _numpy_rounds(data: object, threads: int, rounds: int) -> list[float]:
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload]
    words = raw[: raw.size // 8 * 8].view(np.uint64)
    bounds = [words.size * t // threads for t in range(threads + 1)]
    parts = [words[bounds[t]:bounds[t + 1]] for t in range(threads)]
    times = []
    for _ in range(rounds):
        workers = [threading.Thread(target=part.sum) for part in parts[1:]]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        parts[0].sum()
        for w in workers:
            w.join()
        times.append(time.perf_counter() - t0)
    return times


def read_limit(data: object, threads: int = 1, rounds: int = 7, *,
               llc: int | None = None) -> ReadLimit:
    """Read ``data`` (bytes-like) ``rounds`` times with ``threads`` threads; the limit of a
    count of the same bytes with as many threads."""
    try:
        from wordcount.kernels import _native
    except ImportError:
        times, method = _numpy_rounds(data, threads, rounds), FALLBACK
    else:
        times, method = list(_native.read_rounds(data, threads, rounds)), NATIVE
    nbytes = memoryview(data).nbytes  # type: ignore[arg-type]
    return ReadLimit(nbytes=nbytes, threads=threads, seconds=min(times),
                     median_seconds=statistics.median(times), level=level_of(nbytes, llc),
                     method=method)
