"""Options of the benchmark suite (``pytest bench``) and the glue that saves and summarises runs.

The options mirror the Make variables of the same names (``make bench SIZES=1MiB,64MiB``); they
are declared here, at the root, so that ``pytest bench ...`` accepts them, and they have defaults,
so ``pytest tests`` is unaffected. Runs are stored under ``results/`` (pytest-benchmark's file
storage, one folder per machine) unless ``--benchmark-storage`` says otherwise, so
``pytest bench --benchmark-compare`` finds what ``make bench`` saved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: Cases skipped, by the memory or time estimate or refused by their executor (numpy in
#: subinterpreters): ``[{"name": ..., "reason": ...}]``, saved in the run.
SKIPPED = pytest.StashKey[list]()

#: SIGTERM/SIGHUP as Ctrl-C, the journal of finished cases, atomic saves (see its docstring).
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
    from wcbench.compare import pytest_table  # the memory table of --benchmark-compare

    pytest_table.addoption(group)


def pytest_configure(config: pytest.Config) -> None:
    from wcbench.compare import pytest_table

    config.stash[SKIPPED] = []
    pytest_table.register(config)
    # Runs go under results/ by default (pytest-benchmark reads the option after this hook).
    if getattr(config.option, "benchmark_storage", None) == _DEFAULT_STORAGE:
        config.option.benchmark_storage = f"file://{Path(config.rootpath, 'results')}"


@pytest.fixture(scope="session")
def wordcount_skips(pytestconfig: pytest.Config) -> list:
    """Where a benchmark records why it was skipped: an estimate, or its executor's refusal."""
    return pytestconfig.stash[SKIPPED]


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    from wcbench.machine import machine_details

    machine_info["wordcount"] = machine_details()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    from wcbench.matrix import DEFAULT_MATRIX
    from wcbench.session.options import given_options

    output_json["wordcount_skipped"] = list(config.stash.get(SKIPPED, []))
    # Which matrix made the run: its name, and any list given beside it that replaced its own.
    output_json["wordcount_matrix"] = {
        "name": config.getoption("matrix") or DEFAULT_MATRIX,
        "options": given_options(config)}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    from wcbench.report.summary import summary_lines
    from wcbench.results import Benchmark, SkippedCase

    session = getattr(config, "_benchmarksession", None)
    benchmarks = [
        Benchmark.from_json({"name": b.name, "group": b.group, "stats": {"median": b.stats.median},
                             "extra_info": dict(b.extra_info)})
        for b in getattr(session, "benchmarks", [])
        if b  # a benchmark with timings (not one that failed before timing)
    ]
    skipped = [SkippedCase.from_json(s) for s in config.stash.get(SKIPPED, [])]
    lines = summary_lines(benchmarks, skipped)
    if lines:
        terminalreporter.section("wordcount summary")
        for line in lines:
            terminalreporter.write_line(line)
