"""On a free-threaded CPython (3.13t, 3.14t), nothing the package imports turns the GIL back on.

Such a build re-enables the GIL, with only a warning, when it imports an extension module that does
not declare itself safe without it; the ``threads`` executor then silently loses its parallelism,
and every benchmark figure with it. So every module of ``wordcount`` and of the benchmark code is
imported, and a count made with each kernel, in a fresh interpreter (pytest's plugins are not the
package's business), and the GIL's state compared with the build's. On a GIL build the same check
holds trivially: the GIL is reported enabled. The native kernel's C extension, where it was built,
is among those modules and kernels: it declares ``Py_mod_gil = Py_MOD_GIL_NOT_USED``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from wordcount.kernels import native_kernel

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import importlib, json, pkgutil, sys, warnings
warnings.simplefilter("error", RuntimeWarning)  # the warning a GIL re-enabling import gives
import wcbench, wordcount
from wordcount.api import count_words
from wordcount.kernels import KERNELS
names = []
for package in (wordcount, wcbench):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
text = "free  threaded\\u3000words " * 10000
counts = {k: count_words(text, kernel=k, executor="threads", workers=2) for k in KERNELS}
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
print(json.dumps({"gil_enabled": gil, "modules": names, "counts": counts,
                  "expected": len(text.split())}))
"""


def _gil_expected() -> bool:
    """The GIL's state the build and the user's choice (``PYTHON_GIL=1``) call for."""
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return not free_threaded or os.environ.get("PYTHON_GIL") == "1"


def test_imports_and_counts_keep_the_build_s_gil_state() -> None:
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["gil_enabled"] is _gil_expected()
    assert "wordcount.executors.threads" in report["modules"]
    assert "wordcount.kernels.numpy_kernel" in report["modules"]
    assert set(report["counts"].values()) == {report["expected"]}
    if native_kernel.count_native is not None:
        assert "wordcount.kernels._native" in report["modules"]
        assert "native" in report["counts"]
