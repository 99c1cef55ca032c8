"""The compiled kernel: C over the text in place, SIMD where the CPU has it, without the GIL.

The C extension ``wordcount.kernels._native`` (sources in ``csrc/``) is built by ``pip install``
when a C compiler and Python's headers are there (``setup.py``; optional, so the package installs
without it). This module says whether it was: ``count_native`` is the kernel, or ``None`` with
``UNAVAILABLE`` telling why. It counts ``str`` in its own storage (1, 2 or 4 bytes per code point)
and UTF-8 through the buffer protocol (bytes, bytearray, memoryview, mmap, shared memory), which
it holds so the memory stays valid while the GIL is released; it validates UTF-8 like
``bytes.decode`` and raises ``InvalidUTF8Error`` with the same offset and reason.
"""

from __future__ import annotations

from collections.abc import Callable

count_native: Callable[..., int] | None
#: Why ``count_native`` is ``None``; empty when the extension is there.
UNAVAILABLE = ""
#: The instruction set counts use (``avx512``, ``avx2``, ``sse2`` or ``scalar``: the best this CPU
#: runs, or a lower one named by ``WORDCOUNT_NATIVE_ISA`` when the extension is imported), and
#: all this CPU can run (``_native.count_isa`` counts with any of them, as the tests do).
ISA = ""
ISAS: tuple[str, ...] = ()

try:
    from wordcount.kernels import _native
except ImportError as exc:
    count_native = None
    UNAVAILABLE = (
        f"its C extension was not built or cannot load ({exc}); it needs a C compiler and "
        "Python's headers when the package is installed (pip install -e .)"
    )
else:
    count_native = _native.count
    ISA, ISAS = _native.ISA, _native.ISAS
