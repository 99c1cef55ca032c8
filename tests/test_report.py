"""The report built from a small saved run: every row, plot and sentence is there and true.

The fixture ``tests/data/run_small.json`` is a real run of the matrix, saved by pytest-benchmark:
``pytest bench/bench_wordcount.py --benchmark-autosave --sizes 64KiB,1MiB --workers 1,2,4
--memory-limit 100MiB`` (both kernels, every executor and start method, a memory-read benchmark
per size, nine cases skipped by the memory estimate). Expected values are recomputed here from the
raw JSON, not taken from the report module.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import WCBENCH, wcbench

from wcbench import results
from wcbench.report import build as report
from wcbench.report import findings as report_findings
from wcbench.report import plots as report_plots
from wcbench.units import (
    format_bytes_spaced,
    format_percent,
    format_ratio,
    format_size,
    format_time_spaced,
)
from wordcount import START_METHODS
from wordcount.executors import PROCESS_EXECUTORS

FIXTURE = Path(__file__).parent / "data" / "run_small.json"
MACHINE = "Linux-CPython-3.11-64bit"


def raw() -> dict:
    return json.loads(FIXTURE.read_text())


def matrix(data: dict) -> list[dict]:
    """The fixture's matrix benchmarks' extra_info with their median."""
    return [{**b["extra_info"], "median": b["stats"]["median"]} for b in data["benchmarks"]
            if b["extra_info"].get("kind") == "wordcount"]


def save(results: Path, number: int, data: dict) -> Path:
    folder = results / MACHINE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:04d}_cb2180f_20261125_0930{number:02d}.json"
    path.write_text(json.dumps(data))
    return path


def section(text: str, title: str) -> str:
    """The body of one ``## title`` section of a Markdown page."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^#{{1,2}} |\Z)", text, re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def label(case: dict) -> str:
    sm = f" ({case['start_method']})" if case["start_method"] else ""
    workers = f"{case['workers']} worker" + ("s" if case["workers"] != 1 else "")
    return f"{case['kernel']} · {case['executor']}{sm} with {workers}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of the fixture run built by the CLI entry, as ``make report`` runs it."""
    results = tmp_path_factory.mktemp("results")
    save(results, 1, raw())
    proc = subprocess.run([WCBENCH, "report", "--results", str(results)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return results / "report.md"


def test_every_case_has_its_row_in_its_size_section(built: Path) -> None:
    text = built.read_text()
    cases = matrix(raw())
    for size in sorted({c["text_bytes"] for c in cases}):
        body = section(text, f"{format_size(size)} of text (ascii)")
        rows = [line for line in body.splitlines() if line.startswith("| ")][2:]
        here = [c for c in cases if c["text_bytes"] == size]
        assert len(rows) == len(here)
        for c in here:
            start = f"| {c['kernel']} | {c['executor']} | {c['start_method'] or '–'} | " \
                    f"{c['workers']} | {format_time_spaced(c['median'])} |"
            assert sum(row.startswith(start) for row in rows) == 1, start
        baseline = next(c for c in here if (c["kernel"], c["executor"]) == ("split", "serial"))
        fastest = min(here, key=lambda c: c["median"])
        speedup = format_ratio(baseline["median"] / fastest["median"])
        row = next(r for r in rows if r.startswith(
            f"| {fastest['kernel']} | {fastest['executor']} | {fastest['start_method'] or '–'} | "
            f"{fastest['workers']} |"))
        assert f"| {speedup} |" in row
        assert f"| {format_bytes_spaced(fastest['peak_tree_bytes'])} |" in row


def test_skipped_cases_are_listed_with_their_reason(built: Path) -> None:
    text = built.read_text()
    skipped = raw()["wordcount_skipped"]
    assert skipped
    for skip in skipped:
        assert f"`{skip['name']}`: {skip['reason']}" in text


def test_every_plot_is_drawn_and_linked(built: Path) -> None:
    text = built.read_text()
    linked = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))
    plot_dir = built.parent / "report"
    drawn = {f"report/{p.name}" for p in plot_dir.glob("*.png")}
    sizes = {c["text_bytes"] for c in matrix(raw())}
    expected = {"report/throughput.png", "report/memory-vs-size.png",
                *(f"report/time-vs-workers-{format_size(s)}.png" for s in sizes)}
    assert linked == drawn == expected
    for name in drawn:
        data = (built.parent / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_header_says_machine_python_gil_and_date(built: Path) -> None:
    text = built.read_text()
    data = raw()
    assert f"| machine | {data['machine_info']['node']}, " in text
    assert f"{data['machine_info']['cpu']['count']} CPUs |" in text
    assert "| python | CPython 3.11.7 |" in text
    assert "| GIL | enabled |" in text
    assert f"| date | {data['datetime']} |" in text


def test_winner_sentences_name_the_fastest_and_the_smallest(built: Path) -> None:
    text = built.read_text()
    cases = matrix(raw())
    for size in {c["text_bytes"] for c in cases}:
        here = [c for c in cases if c["text_bytes"] == size]
        fastest = min(here, key=lambda c: c["median"])
        least = min(c["peak_tree_bytes"] for c in here)
        smallest = [c for c in here if c["peak_tree_bytes"] == least]  # ties: any of them
        sentence = next(line for line in text.splitlines()
                        if line.startswith(f"- At {format_size(size)} of text"))
        assert f"the fastest is {label(fastest)}: {format_time_spaced(fastest['median'])}" \
            in sentence
        assert any(f"The smallest memory peak is {label(c)} " in sentence for c in smallest)


def test_copy_sentences_follow_the_copied_bytes() -> None:
    cases = matrix(raw())
    size = max(c["text_bytes"] for c in cases)
    sentences = report_findings.findings(results.load_run(FIXTURE))
    whole = next(s for s in sentences if s.startswith("The whole text"))
    tiny = next(s for s in sentences if s.startswith("Less than"))
    for executor in sorted(PROCESS_EXECUTORS):
        line = next(s for s in sentences if s.startswith(f"At {format_size(size)}, {executor} "))
        for method in START_METHODS:
            shares = [c["copied_bytes"] / size for c in cases if c["text_bytes"] == size
                      and (c["executor"], c["start_method"]) == (executor, method)]
            low, high = format_percent(min(shares)), report_findings.format_percent(max(shares))
            assert f"under {method} {low if low == high else f'{low}–{high}'}" in line
            name = f"{executor} ({method})"
            assert (name in whole) == (min(shares) >= report_findings.WHOLE_COPY)
            assert (name in tiny) == (max(shares) < report_findings.TINY_COPY)
    # The fixture holds both kinds, so both sentences say something.
    assert "processes (spawn)" in whole and "shared-memory (spawn)" in tiny


def test_thread_sentence_states_the_gil_and_the_measured_scaling() -> None:
    cases = matrix(raw())
    size = max(c["text_bytes"] for c in cases)
    sentence = report_findings.thread_sentences(results.load_run(FIXTURE))[0]
    assert sentence.startswith("With the GIL enabled on CPython 3.11.7 and 2 CPUs, ")
    for kernel in ("split", "numpy"):
        threads = {c["workers"]: c["median"] for c in cases if c["text_bytes"] == size
                   and (c["kernel"], c["executor"]) == (kernel, "threads")}
        most = max(threads)
        expected = format_ratio(threads[1] / threads[most])
        assert f"{kernel} in {most} threads runs {expected} as fast as in one" in sentence


def test_a_free_threaded_run_says_the_gil_is_disabled(tmp_path: Path) -> None:
    data = raw()
    for bench in data["benchmarks"]:
        if bench["extra_info"].get("kind") == "wordcount":
            bench["extra_info"].update(gil_enabled=False, python="3.14.0")
    run = results.load_run(save(tmp_path, 1, data))
    assert report_findings.gil_status(run) == "disabled (free-threaded)"
    assert report_findings.thread_sentences(run)[0].startswith(
        "With the GIL disabled (free-threaded) on CPython 3.14.0 and 2 CPUs, ")


def _new_run(data: dict) -> tuple[dict, dict]:
    """NEW: split in threads twice as fast, numpy shared-memory twice the memory, one case gone."""
    new = copy.deepcopy(data)
    new["datetime"] = "2026-11-25T10:45:00+00:00"
    gone = None
    for bench in list(new["benchmarks"]):
        info = bench["extra_info"]
        if info.get("kind") != "wordcount":
            continue
        if (info["kernel"], info["executor"]) == ("split", "threads"):
            bench["stats"]["median"] /= 2
        if (info["kernel"], info["executor"]) == ("numpy", "shared-memory"):
            info["peak_tree_bytes"] *= 2
        if gone is None and info["executor"] == "dask":
            gone = info
            new["benchmarks"].remove(bench)
    assert gone is not None
    return new, gone


def one_size(data: dict, size: int = 1 << 20) -> dict:
    """The run cut down to one size: fewer lines to draw where plots are not the point."""
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"]["text_bytes"] == size]
    return data


@pytest.fixture
def no_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plot files are written empty: for tests about which plots exist, not their pixels (the
    ``built`` report draws every kind for real)."""
    def touch(*args: object) -> None:
        Path(str(args[-1])).touch()  # every plot function takes the file to draw last

    for name in ("plot_throughput", "plot_memory_vs_size", "plot_time_vs_workers"):
        monkeypatch.setattr(report_plots, name, touch)


@pytest.mark.usefixtures("no_drawing")
def test_base_and_new_side_by_side_with_ratios(tmp_path: Path) -> None:
    data = one_size(raw())
    new, gone = _new_run(data)
    save(tmp_path, 1, data)
    save(tmp_path, 2, new)
    output = tmp_path / "report.md"
    assert wcbench("report", ["--results", str(tmp_path), "--base", "1", "--new", "2",
                        "--output", str(output)]) == 0
    text = output.read_text()
    ratios = section(text, "NEW against BASE")
    rows = [line for line in ratios.splitlines() if line.startswith("| ")
            and not line.startswith(("| kernel", "| ---", "| numpy sum, 1 thread |"))]
    assert len(rows) == len(matrix(data)) - 1
    # both runs are old ones: numpy's one-thread sum, compared as itself
    assert sum(line.startswith("| numpy sum, 1 thread |  |  | 1 | ") for line in
               ratios.splitlines()) == 1
    for row in rows:
        kernel, executor = row.split(" | ")[:2]
        kernel = kernel.removeprefix("| ")
        cells = row.strip("| ").split(" | ")
        time_ratio, memory_ratio = cells[6], cells[9]
        assert time_ratio == ("0.500×" if (kernel, executor) == ("split", "threads") else "1.00×")
        assert memory_ratio == ("2.00×" if (kernel, executor) == ("numpy", "shared-memory")
                                else "1.00×")
    assert f"Only in BASE: {label(gone)} at {format_size(gone['text_bytes'])}." in ratios
    assert "| run | " in section(text, "BASE and NEW")
    assert "the biggest gain in time is split · threads" in ratios
    assert "biggest loss" not in ratios  # nothing got slower
    assert "- BASE: With the GIL enabled" in ratios and "- NEW: With the GIL enabled" in ratios
    # The NEW run is reported in full below the comparison, with its plots.
    assert "## Findings" in text and (tmp_path / "report" / "throughput.png").exists()


def test_a_run_without_matrix_benchmarks_is_passed_over(tmp_path: Path) -> None:
    data = raw()
    matrix_run = save(tmp_path, 1, data)
    kernels_only = copy.deepcopy(data)
    kernels_only["datetime"] = "2026-11-25T11:00:00+00:00"
    kernels_only["benchmarks"] = [b for b in data["benchmarks"]
                                  if b["extra_info"]["kind"] == "memory-read"]
    for bench in kernels_only["benchmarks"]:
        bench["extra_info"] = {"size_bytes": bench["extra_info"]["text_bytes"]}
    later = save(tmp_path, 2, kernels_only)
    assert results.run_paths(tmp_path)[-1] == later
    assert results.latest_run(tmp_path, with_cases=True).path == matrix_run
    with pytest.raises(report.ReportError, match="holds no matrix benchmark"):
        report.build(tmp_path, tmp_path / "report.md", new="2")


def test_no_saved_run_says_so_in_one_line_and_exits_2(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert wcbench("report", ["--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no saved run" in err and "make bench" in err
    assert not (tmp_path / "report.md").exists()


def test_a_bad_run_argument_or_file_exits_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    save(tmp_path, 1, raw())
    assert wcbench("report", ["--results", str(tmp_path), "--base", "9"]) == 2
    broken = tmp_path / MACHINE / "0002_broken.json"
    broken.write_text("{not json")
    assert wcbench("report", ["--results", str(tmp_path), "--new", str(broken)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("report: ") for line in lines)


@pytest.mark.usefixtures("no_drawing")
def test_stale_plots_are_removed(tmp_path: Path) -> None:
    save(tmp_path, 1, raw())
    stale = tmp_path / "report" / "time-vs-workers-8GiB.png"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    mine = tmp_path / "report" / "notes.txt"
    mine.write_text("not a plot of ours")
    data = one_size(raw())
    data["benchmarks"] = [b for b in data["benchmarks"]
                          if b["extra_info"].get("executor") in ("serial", "threads")]
    run = results.load_run(save(tmp_path, 2, data))
    links = report_plots.write_plots(run, tmp_path / "report", "report/")
    assert not stale.exists() and mine.exists()
    assert sorted(links.values()) == ["report/memory-vs-size.png", "report/throughput.png",
                                      "report/time-vs-workers-1MiB.png"]
