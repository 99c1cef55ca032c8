"""Memory where pytest-benchmark compares time: a table after its own, and a failing check.

pytest-benchmark's ``--benchmark-compare`` carries only the compared run's ``stats`` into its
rows and has no hook for columns, so this plugin prints its own table after pytest-benchmark's
(as fluxopt/pytest-benchmem does): per benchmark present in both runs, the parent's, workers' and
tree peaks and the bytes copied, both runs and the ratio, judged by the rule set ``wcbench
compare`` uses (:mod:`wcbench.compare.rules`). The runs compared are the ones pytest-benchmark
loaded itself (``BenchmarkSession.compared_mapping``: its own storage lookup), so
``--benchmark-compare`` means what its users know: the latest saved run, or the one numbered.

``--memory-compare-fail=FIGURE:PCT[,FIGURE:PCT...]`` (FIGURE: parent, workers, tree, copied)
fails the session, exit status 1 as ``--benchmark-compare-fail`` does, when one of those figures
grew by more than PCT and past its noise floor; PCT replaces the figure's relative tolerance, the
floors stay. It needs ``--benchmark-compare`` (else a usage error, exit 4).

Registered by :mod:`wcbench.pytest_plugin` (an entry point: any project's pytest-benchmark suite
gets it); display only (the rules judge, ``terminal`` prints).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wcbench import record
from wcbench.compare import rules
from wcbench.units import format_bytes

OPTION = "--memory-compare-fail"
_TITLES = {record.PEAK_PARENT_BYTES: "parent peak", record.PEAK_WORKERS_BYTES: "workers' peaks",
           record.PEAK_TREE_BYTES: "tree peak", record.COPIED_BYTES: "copied"}


def fail_spec(text: str) -> dict[str, float]:
    """The option's type: :func:`wcbench.compare.rules.parse_fail_spec` (errors: usage errors)."""
    return rules.parse_fail_spec(text)


def addoption(group: Any) -> None:
    """Declare ``--memory-compare-fail`` in ``group`` (a pytest option group)."""
    figures = "|".join(rules.FIGURES)
    group.addoption(OPTION, type=fail_spec, default=None, metavar=f"{{{figures}}}:PCT[,...]",
                    help="with --benchmark-compare: fail (exit 1) when a memory figure grew by "
                         "more than PCT and past its noise floor, e.g. copied:1%%,parent:10%%")


@dataclass(frozen=True)
class Row:
    """One benchmark present in both runs, its figures judged."""

    name: str
    judgements: tuple[rules.Judgement, ...]


@dataclass(frozen=True)
class Table:
    """Everything compared against one saved run."""

    source: str
    rows: tuple[Row, ...]

    def failures(self, checks: Mapping[str, float]) -> list[tuple[str, rules.Judgement]]:
        """(benchmark, judgement) of every checked figure that regressed."""
        return [(row.name, j) for row in self.rows for j in row.judgements
                if j.regression and rules.SHORT[j.key] in checks]


def build_tables(current: Iterable[Any], compared: Mapping[Any, Mapping[str, Mapping]],
                 rule_set: rules.Rules) -> list[Table]:
    """A table per compared run: each current benchmark (pytest-benchmark's ``Metadata``: name,
    fullname, extra_info) matched by ``fullname`` as pytest-benchmark matches them."""
    done = [b for b in current if b]  # a benchmark that never timed is falsy
    tables = []
    for path, by_fullname in compared.items():
        rows = []
        for bench in done:
            old = by_fullname.get(bench.fullname)
            if old is None:
                continue
            judged = rules.judge(old.get("extra_info") or {}, bench.extra_info, rule_set)
            if judged:
                rows.append(Row(bench.name, tuple(judged)))
        tables.append(Table(source_label(Path(str(path))), tuple(rows)))
    return tables


def source_label(path: Path) -> str:
    """``0001_4df45d3`` for ``.../0001_4df45d36..._20261203_181317.json``: the run number and
    short commit by which pytest-benchmark's own table names the compared run."""
    match = re.match(r"^(\d{4})_([0-9a-f]{7})[0-9a-f]*_", path.name)
    return "_".join(match.groups()) if match else path.stem


def _ratio(j: rules.Judgement) -> str:
    ratio = j.ratio
    text = ("=" if not j.new else "new") if ratio is None else f"{ratio:.2f}x"
    return text + ("" if j.exact else "~") + (" !" if j.regression else "")


def _align(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, under a title line whose titles each span a group of
    three columns (BASE, NOW, ratio) after the name column."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    spans = [sum(widths[1 + 3 * g:4 + 3 * g]) + 4 for g in range(len(titles))]
    spans = [max(s, len(t)) for s, t in zip(spans, titles, strict=True)]
    for g, span in enumerate(spans):  # a title wider than its columns widens the ratio column
        widths[3 + 3 * g] += span - (sum(widths[1 + 3 * g:4 + 3 * g]) + 4)
    head = "  ".join([" " * widths[0], *(t.ljust(s) for t, s in zip(titles, spans, strict=True))])
    return [head.rstrip(), *("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                             for r in rows)]


def format_table(table: Table, rule_set: rules.Rules, checks: Mapping[str, float]) -> list[str]:
    """The table as lines: two header lines, a line per benchmark, the rules, the verdict."""
    if not table.rows:
        return [f"no benchmark with memory figures in both NOW and {table.source}"]
    keys = [k for k in record.MEMORY_KEYS
            if any(j.key == k for row in table.rows for j in row.judgements)]
    label = table.source.split("_")[0]
    sub = ["Name (memory)", *(c for _ in keys for c in (label, "NOW", f"NOW/{label}"))]
    body = []
    for row in table.rows:
        by_key = {j.key: j for j in row.judgements}
        cells = [row.name]
        for k in keys:
            j = by_key.get(k)
            cells += [format_bytes(j.base), format_bytes(j.new), _ratio(j)] if j else ["-"] * 3
        body.append(cells)
    lines = _align([_TITLES[k] for k in keys], [sub, *body])
    lines += ["", "'!' grew past its limit; '~' not exact, judged at the wide tolerance; "
                  "limits (wcbench compare's):", *(f"  {line}" for line in rule_set.describe())]
    regressed = [f"{row.name} {rules.SHORT[j.key]}" for row in table.rows
                 for j in row.judgements if j.regression]
    if regressed:
        checked = f"{OPTION} checks {', '.join(checks)}" if checks else f"{OPTION} not given"
        lines.append(f"{len(regressed)} figure(s) grew past their limits: {', '.join(regressed)}"
                     f" ({checked})")
    else:
        lines.append(f"no memory figure of {len(table.rows)} benchmark(s) grew past its limit")
    return lines


def failure_lines(failures: Sequence[tuple[str, rules.Judgement]], spec: str) -> list[str]:
    """``Memory has regressed:`` and one line per benchmark and figure, as pytest-benchmark
    words its own check."""
    lines = [f"Memory has regressed ({OPTION}={spec}):"]
    for name, j in failures:
        grew = f"+{j.new / j.reference - 1:.1%}" if j.reference else "from 0"
        lines.append(f"\t{name} - {rules.SHORT[j.key]}: {format_bytes(j.reference)} -> "
                     f"{format_bytes(j.new)} ({grew}), more than {j.tolerance.describe()}")
    return lines


def _spec_text(checks: Mapping[str, float]) -> str:
    return ",".join(f"{k}:{v * 100:g}%" for k, v in checks.items())


class MemoryCompare:
    """The plugin: judges after pytest-benchmark has finished, prints after its table."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.checks: dict[str, float] = config.getoption("memory_compare_fail") or {}
        self.rules = rules.Rules().with_relative(self.checks)
        self.tables: list[Table] = []
        self.problem: str | None = None
        if self.checks and not config.getoption("benchmark_compare", None):
            raise pytest.UsageError(f"{OPTION} requires --benchmark-compare")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        bs = getattr(self.config, "_benchmarksession", None)
        if bs is None or not self.config.getoption("benchmark_compare", None):
            return
        self.tables = build_tables(bs.benchmarks, bs.compared_mapping or {}, self.rules)
        if not self.checks:
            return
        if not self.tables:
            self.problem = f"{OPTION} requires a saved run that --benchmark-compare can load"
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        elif any(t.failures(self.checks) for t in self.tables) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        tr = terminalreporter
        if self.problem:
            tr.write_line(f"ERROR: {self.problem}", red=True, bold=True)
        for table in self.tables:
            tr.section(f"memory: NOW against {table.source}", yellow=True)
            for line in format_table(table, self.rules, self.checks):
                tr.write_line(line)
            failures = table.failures(self.checks)
            if failures:
                for line in failure_lines(failures, _spec_text(self.checks)):
                    tr.write_line(line, red=True, bold=True)


def register(config: pytest.Config) -> None:
    """Register the plugin (from ``pytest_configure``)."""
    config.pluginmanager.register(MemoryCompare(config), "wcbench-memory-compare")

