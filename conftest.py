"""Options of the benchmark suite (``pytest bench``), and where runs are saved.

The options mirror the Make variables of the same names (``make bench SIZES=1MiB,64MiB``); they
are declared here, at the root, so that ``pytest bench ...`` accepts them, and they have defaults,
so ``pytest tests`` is unaffected. Runs are stored under ``results/`` (pytest-benchmark's file
storage, one folder per machine) unless ``--benchmark-storage`` says otherwise, so
``pytest bench --benchmark-compare`` finds what ``make bench`` saved. What a run saves of its own,
and the summary it ends with, are the session plugin's (``wcbench.session.plugin``); the memory
table of ``--benchmark-compare`` and ``--memory-compare-fail`` are the installed plugin's
(``wcbench.pytest_plugin``, registered by entry point for any project).
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: The run's own record, the summary, SIGTERM/SIGHUP as Ctrl-C, the journal of finished cases,
#: atomic saves (see its docstring).
pytest_plugins = ("wcbench.session.plugin",)

_DEFAULT_STORAGE = "file://./.benchmarks"


def pytest_addoption(parser: pytest.Parser) -> None:
    from wcbench import matrix

    group = parser.getgroup("wordcount-bench", "word-count benchmark matrix (pytest bench)")
    sizes = ",".join(matrix.DEFAULT_SIZES)
    workers = ",".join(map(str, matrix.DEFAULT_WORKERS))
    group.addoption("--matrix", default="", metavar="NAME",
                    help=f"a named matrix (make: MATRIX; default {matrix.DEFAULT_MATRIX}): "
                         + "; ".join(f"{p.name}: {p.why}" for p in matrix.PRESETS.values())
                         + "; options given beside it replace its lists")
    matrix.add_matrix_options(group.addoption, {
        "sizes": ("", f"the matrix's, {sizes} for quick and full"),
        "workers": ("", f"the matrix's, 2 for quick, {workers} for full")})
    group.addoption("--memory-limit", default="", metavar="SIZE",
                    help="skip cases whose estimated peak plus the text exceeds this, e.g. 2GiB "
                         "(make: MEMORY_LIMIT; default: only what the machine has available)")
    group.addoption("--time-limit", default="", metavar="SECONDS",
                    help="skip cases whose estimated time (memory call and rounds) exceeds this "
                         "(make: TIME_LIMIT; default: the matrix's own, none for the default)")
    group.addoption("--instructions", action="store_true", default=False,
                    help="also count each case's instructions in valgrind's callgrind (the "
                         "calls alone, after a warm-up; cases that start worker processes are "
                         "not counted), saved in its record as instructions; $WCBENCH_VALGRIND "
                         "names the valgrind")


def pytest_configure(config: pytest.Config) -> None:
    from wcbench import forkguard
    from wcbench.session import options

    forkguard.install()  # the benchmarks fail a case that forked beside a thread
    options.callgrind(config)  # --instructions without a valgrind: exit 2 here, one line
    # Runs go under results/ by default (pytest-benchmark reads the option after this hook).
    if getattr(config.option, "benchmark_storage", None) == _DEFAULT_STORAGE:
        config.option.benchmark_storage = f"file://{Path(config.rootpath, 'results')}"
