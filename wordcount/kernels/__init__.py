"""Counting kernels: how one chunk of text is counted.

Every kernel is a pure function ``kernel(data, start=0, end=None) -> int`` that returns
``len(str(data[start:end]).split())`` exactly. ``data`` is ``str`` (offsets in code points) or a
bytes-like object of UTF-8 (offsets in bytes, cut on character boundaries); invalid UTF-8 raises
``InvalidUTF8Error`` with an offset relative to ``start``. Taking offsets rather than slices lets
executors that share memory (threads, shared memory) count a chunk without copying it.

Kernels are top-level functions, so they pickle by reference and run in any worker process.
``native`` is listed only where its C extension was built (``native_kernel.UNAVAILABLE`` says why
not); asking for it elsewhere raises ``ValueError`` with that reason.

In a subinterpreter numpy is imported only when the numpy kernel first counts (``count_numpy``
below), so that ``import wordcount`` works there although numpy cannot load (numpy/numpy#24755);
the main interpreter imports it with the package, as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from wordcount._where import in_subinterpreter
from wordcount.kernels import native_kernel
from wordcount.kernels.split import count_split


def _numpy_kernel() -> Callable[..., int]:
    from wordcount.kernels import numpy_kernel

    return numpy_kernel.count_numpy


class _LazyNumpyKernel:
    """The numpy kernel (``wordcount.kernels.numpy_kernel.count_numpy``), numpy imported on the
    first call rather than with the package, so a subinterpreter can import ``wordcount``. It
    pickles as the real function, so a worker process imports numpy while it receives its task,
    as before."""

    __name__ = "count_numpy"

    def __call__(self, data: object, start: int = 0, end: int | None = None,
                 **options: object) -> int:
        return _numpy_kernel()(data, start, end, **options)

    def __reduce__(self) -> tuple[Callable[[], Callable[..., int]], tuple[()]]:
        return _numpy_kernel, ()


if in_subinterpreter():
    count_numpy: Callable[..., int] = _LazyNumpyKernel()
else:  # the main interpreter imports numpy with the package, as worker processes expect
    count_numpy = _numpy_kernel()

#: Kernel functions by the name ``count_words(kernel=...)`` takes.
KERNEL_FUNCTIONS: dict[str, Callable[..., int]] = {
    "split": count_split,
    "numpy": count_numpy,
}
if native_kernel.count_native is not None:
    KERNEL_FUNCTIONS["native"] = native_kernel.count_native

KERNELS: tuple[str, ...] = tuple(KERNEL_FUNCTIONS)


def get_kernel(name: str) -> Callable[..., int]:
    """The kernel called ``name``; ``ValueError`` listing the valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"kernel must be a name (str), not {type(name).__name__}")
    try:
        return KERNEL_FUNCTIONS[name]
    except KeyError:
        if name == "native":
            raise ValueError(
                f"kernel 'native' is not available in this install: {native_kernel.UNAVAILABLE}"
                f"; choose one of: {', '.join(KERNELS)}"
            ) from None
        raise ValueError(
            f"unknown kernel {name!r}; choose one of: {', '.join(KERNELS)}"
        ) from None


def release_working_memory() -> int:
    """Free what kernels keep between calls for speed (the numpy kernel's scratch buffers), so a
    memory measurement sees a call allocate all it uses; returns the bytes freed."""
    numpy_kernel = sys.modules.get("wordcount.kernels.numpy_kernel")
    return 0 if numpy_kernel is None else numpy_kernel.SCRATCH.release()
