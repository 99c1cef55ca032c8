"""wcbench's pytest plugin for any project's pytest-benchmark suite: memory beside time.

Registered by entry point (``[project.entry-points.pytest11]``), so installing wordcount-bench
is enough; no conftest is needed (``-p no:wcbench`` turns it off). With pytest-benchmark:

- ``--benchmark-memory``: before its timed rounds, each benchmark's function is called once more,
  untimed, inside :func:`wcbench.measure_tree` (the tree sampled by a separate process, the
  caller's exact peak, the probe in every process it starts: the bytes multiprocessing pickled
  each way), and the figures are saved in the benchmark's ``extra_info`` under the names the
  suite uses (``peak_parent_bytes``, ``peak_workers_bytes``, ``peak_tree_bytes``,
  ``copied_bytes``, ``returned_bytes``). A benchmark that recorded memory figures of its own
  before timing (the suite's matrix does) is not called again.
- ``--benchmark-compare`` then prints the memory table after pytest-benchmark's own, and
  ``--memory-compare-fail=FIGURE:PCT`` fails the session when a figure grew past it
  (:mod:`wcbench.compare.pytest_table`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from wcbench import record
from wcbench.compare import pytest_table

MEMORY_OPTION = "--benchmark-memory"
_PATCHED: dict[str, Callable[..., Any]] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcbench", "memory of benchmarks (wcbench)")
    group.addoption(MEMORY_OPTION, action="store_true", default=False,
                    help="call each benchmark once more, untimed, measuring its process tree "
                         "(peaks, bytes pickled to and from workers); saved in extra_info")
    pytest_table.addoption(group)


def _has_benchmark(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("pytest_benchmark.plugin") or \
        config.pluginmanager.hasplugin("benchmark")


def pytest_configure(config: pytest.Config) -> None:
    if not _has_benchmark(config):
        if config.getoption("benchmark_memory") or config.getoption("memory_compare_fail"):
            raise pytest.UsageError(f"{MEMORY_OPTION} and {pytest_table.OPTION} need "
                                    "pytest-benchmark")
        return
    pytest_table.register(config)
    if config.getoption("benchmark_memory"):
        _patch_fixture()


def pytest_unconfigure(config: pytest.Config) -> None:
    _unpatch_fixture()


def memory_call(fixture: Any, target: Callable[..., Any], args: Sequence[Any],
                kwargs: Mapping[str, Any]) -> None:
    """The untimed call: ``target(*args, **kwargs)`` inside ``measure_tree``, its figures put
    in ``fixture.extra_info`` (not when the benchmark has memory figures already)."""
    if getattr(fixture, "disabled", False) or \
            any(k in fixture.extra_info for k in record.MEMORY_KEYS):
        return
    from wcbench.measure.tree import measure_tree, trim_heap

    trim_heap()  # what earlier tests freed is not reused unseen
    with measure_tree() as m:
        target(*args, **kwargs)
    fixture.extra_info.update(record.tree_memory_fields(m.figures, m.peak_parent_bytes))


def _patch_fixture() -> None:
    from pytest_benchmark.fixture import BenchmarkFixture

    if _PATCHED:
        return
    call, pedantic = BenchmarkFixture.__call__, BenchmarkFixture.pedantic
    _PATCHED.update(__call__=call, pedantic=pedantic)

    def measured_call(self: Any, function_to_benchmark: Callable[..., Any], *args: Any,
                      **kwargs: Any) -> Any:
        memory_call(self, function_to_benchmark, args, kwargs)
        return call(self, function_to_benchmark, *args, **kwargs)

    def measured_pedantic(self: Any, target: Callable[..., Any], args: Sequence[Any] = (),
                          kwargs: Mapping[str, Any] | None = None,
                          setup: Callable[[], Any] | None = None, **rest: Any) -> Any:
        call_args, call_kwargs = tuple(args), dict(kwargs or {})
        if setup is not None:  # as pytest-benchmark calls it before each round
            made = setup()
            if made:
                call_args, call_kwargs = made
        memory_call(self, target, call_args, call_kwargs)
        return pedantic(self, target, args=args, kwargs=kwargs, setup=setup, **rest)

    BenchmarkFixture.__call__ = measured_call  # type: ignore[method-assign]
    BenchmarkFixture.pedantic = measured_pedantic  # type: ignore[method-assign]


def _unpatch_fixture() -> None:
    if not _PATCHED:
        return
    from pytest_benchmark.fixture import BenchmarkFixture

    for name, original in _PATCHED.items():
        setattr(BenchmarkFixture, name, original)
    _PATCHED.clear()
