"""The report's section "How cost grows with the text", on a synthetic saved run."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.axes
import pytest
from helpers import wcbench

from wcbench import results
from wcbench.report import build as report
from wcbench.report import scale as report_scale
from wordcount.bandwidth import NATIVE

MIB, GIB = 1 << 20, 1 << 30
SIZES = [MIB, 16 * MIB, 256 * MIB, 4 * GIB]

#: strategy -> (fixed bytes, bytes per byte, start-up s, s per byte, largest size run)
STRATEGIES = {
    ("numpy", "serial", None, 1): (0, 0.0, 1e-4, 0.3e-9, 4 * GIB),
    ("numpy", "threads", None, 2): (2 * MIB, 0.0, 3e-4, 0.2e-9, 4 * GIB),
    ("numpy", "processes", "spawn", 2): (40 * MIB, 2.5, 0.3, 7e-9, 256 * MIB),
    ("numpy", "shared-memory", "spawn", 2): (40 * MIB, 1.0, 0.3, 1.5e-9, 4 * GIB),
    ("split", "serial", None, 1): (0, 11.5, 1e-4, 11e-9, 256 * MIB),
}


def bench(kernel: str, executor: str, method: str | None, workers: int, size: int) -> dict:
    fixed, per_byte, start, per_second, _ = STRATEGIES[(kernel, executor, method, workers)]
    name = "-".join([kernel, executor] + ([method] if method else []) + [f"{size}B-w{workers}"])
    return {"name": f"test_wordcount[{name}]", "group": f"size {size}",
            "stats": {"median": start + per_second * size, "rounds": 3},
            "extra_info": {"kind": "wordcount", "kernel": kernel, "executor": executor,
                           "start_method": method, "workers": workers, "text_bytes": size,
                           "corpus": "ascii", "peak_tree_bytes": int(fixed + per_byte * size),
                           "peak_parent_bytes": 0, "peak_workers_bytes": 0,
                           "copied_bytes": 0, "estimate_bytes": 0, "gil_enabled": True,
                           "python": "3.11.7", "cpu_count": 2}}


def saved_run(tmp_path: Path) -> Path:
    benchmarks = [bench(*key, size) for key, spec in STRATEGIES.items() for size in SIZES
                  if size <= spec[-1]]
    benchmarks += [{"name": f"test_memory_read[{size}]", "group": f"size {size}",
                    "stats": {"median": 1e-5 + size / 20e9},
                    "extra_info": {"kind": "memory-read", "text_bytes": size}} for size in SIZES]
    data = {"machine_info": {"wordcount": {"memory_total_bytes": 24 * GIB}},
            "commit_info": {}, "datetime": "2026-11-30T10:00:00", "benchmarks": benchmarks,
            "wordcount_skipped": [{"name": "test_wordcount[numpy-processes-spawn-4GiB-w2]",
                                   "reason": "estimated peak ~14GiB exceeds --memory-limit"}]}
    path = tmp_path / "Linux-CPython-3.11-64bit" / "0001_scale.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


def test_the_section_gives_each_strategy_its_fitted_lines(tmp_path: Path) -> None:
    run = results.load_run(saved_run(tmp_path))
    lines = report_scale.scale_section_lines(run, "report/cost-vs-size.png")
    text = "\n".join(lines)
    assert lines[0] == "## How cost grows with the text"
    assert "held 680 MiB for a 256 MiB text, 2.66 x the text (fitted over every size: 2.50 " \
           "per byte), so text and copies together came to 3.66 x the text" in text
    assert "shared memory under spawn held 1.16 x" in text
    assert "In this machine's 24 GiB, numpy-serial w1 and numpy-threads w2 fit the most text" \
        in text  # a tie within 1%: both named
    assert "split-serial w1 about 1.92 GiB (11.50 per byte: parent word lists)" in text
    assert "1 cases of this run did not run" in text
    assert "Reading the same bytes once (numpy sum, 1 thread: 0.05 s per GB, 20 GB/s)" in text
    assert "![time and peak memory against text size, fitted lines](report/cost-vs-size.png)" \
        in text
    rows = {tuple(c.strip() for c in line.split("|")[1:5]): line for line in lines
            if line.startswith("| numpy") or line.startswith("| split")}
    spawn = rows[("numpy", "processes", "spawn", "2")]
    assert "| 2.50 |" in spawn and "| 7 |" in spawn and "| 256MiB |" in spawn


def test_a_run_of_two_sizes_has_no_section(tmp_path: Path) -> None:
    path = saved_run(tmp_path)
    data = json.loads(path.read_text())
    data["benchmarks"] = [b for b in data["benchmarks"]
                          if b["extra_info"]["text_bytes"] in (MIB, 16 * MIB)]
    path.write_text(json.dumps(data))
    run = results.load_run(path)
    assert report_scale.scale_section_lines(run, None) == []
    assert report_scale.plot_cost_vs_size(run, tmp_path / "x.png") is False
    assert not (tmp_path / "x.png").exists()


def test_make_report_writes_the_section_and_its_plot(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # The report's other plots are tested with the report; drawing them here would only add
    # seconds (one per size and kind of plot).
    monkeypatch.setattr(report, "write_plots", lambda *args: {})
    path = saved_run(tmp_path)
    output = tmp_path / "scale.md"
    assert wcbench("report", ["--results", str(tmp_path), "--new", str(path),
                              "--output", str(output)]) == 0
    text = output.read_text()
    assert "## How cost grows with the text" in text
    plot = tmp_path / "scale" / report_scale.PLOT_NAME
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"](scale/{report_scale.PLOT_NAME})" in text


@pytest.mark.parametrize("field", ["memory_total_bytes"])
def test_without_the_machine_memory_no_capacity_is_claimed(tmp_path: Path, field: str) -> None:
    path = saved_run(tmp_path)
    data = json.loads(path.read_text())
    data["machine_info"]["wordcount"].pop(field)
    path.write_text(json.dumps(data))
    text = "\n".join(report_scale.scale_section_lines(results.load_run(path), None))
    assert "fits the most text" not in text and "| n/a |" in text


def test_thread_labelled_reads_give_a_line_per_thread_count(tmp_path: Path) -> None:
    """A run of the new shape: a read per size and thread count, each its own fitted line."""
    path = saved_run(tmp_path)
    data = json.loads(path.read_text())
    old = [b for b in data["benchmarks"] if b["extra_info"]["kind"] == "memory-read"]
    data["benchmarks"] = [b for b in data["benchmarks"] if b not in old]
    for size in SIZES:
        for threads, gbps in ((1, 20e9), (2, 35e9)):
            data["benchmarks"].append({
                "name": f"test_memory_read[{size}-t{threads}]", "group": f"size {size}",
                "stats": {"median": 1.0},  # the wrapper's time: not the figure
                "extra_info": {"kind": "memory-read", "text_bytes": size, "threads": threads,
                               "level": "cache" if size < 32 * MIB else "memory",
                               "method": NATIVE, "read_seconds": 1e-5 + size / gbps}})
    path.write_text(json.dumps(data))
    run = results.load_run(path)
    assert list(report_scale.read_series(run)) == [1, 2]
    text = "\n".join(report_scale.scale_section_lines(run, None))
    assert ("Reading the same bytes once (read, 1 thread, native: 0.05 s per GB, 20 GB/s; "
            "read, 2 threads, native: 0.0286 s per GB, 35 GB/s) is the limit of a strategy's "
            "seconds per GB, against the read with as many threads as it has workers.") in text
    drawn = []
    original = matplotlib.axes.Axes.plot

    def record(self, *args, **kwargs):
        drawn.append(kwargs.get("label"))
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.axes.Axes, "plot", record)
        assert report_scale.plot_cost_vs_size(run, tmp_path / "cost.png")
    kernels = len({c.kernel for c in run.cases})
    reads = [label for label in drawn if label and label.startswith("reading the bytes")]
    assert reads == ["reading the bytes, read, 1 thread, native (limit)",
                     "reading the bytes, read, 2 threads, native (limit)"] * kernels
