"""The native kernel's C extension (everything else is configured in pyproject.toml).

``optional=True``: where it cannot be compiled (no C compiler, no Python headers) the package
still installs, without the ``native`` kernel; ``wordcount.kernels.native_kernel`` says why.
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
        )
    ]
)
