"""The C extensions (everything else is configured in pyproject.toml): the native kernel, and
callgrind's client requests for ``wcbench ab --measure instructions``.

``optional=True``: where one cannot be compiled (no C compiler, no Python headers, no valgrind
headers for ``_callgrind``) the package still installs without it; the native kernel's
absence is said by ``wordcount.kernels.native_kernel``, ``_callgrind``'s by ``wcbench ab
--measure instructions`` (exit 2, one line).
"""

import sys

from setuptools import Extension, setup

FLAGS = [] if sys.platform == "win32" else ["-O2", "-std=c11", "-fvisibility=hidden"]

setup(
    ext_modules=[
        Extension(
            "wordcount.kernels._native",
            sources=["csrc/module.c", "csrc/utf8.c", "csrc/utf8_avx512.c", "csrc/ucs.c",
                     "csrc/ucs_avx512.c", "csrc/memread.c"],
            depends=["csrc/count.h"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        # Next to the A/B worker, which loads it by path (wcbench/ab/worker.py); needs
        # <valgrind/callgrind.h>, which Debian's valgrind package installs.
        Extension(
            "wcbench.ab._callgrind",
            sources=["csrc/callgrind.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
    ]
)
