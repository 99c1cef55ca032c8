"""Each case against the read of its own size and worker count, in every place a report says it.

The fixture is ``tests/data/run_small.json`` (see ``tests/test_report.py``) with its memory-read
benchmarks replaced by reads of the new shape (``bench/bench_wordcount.py``'s
``test_memory_read``): one per size and thread count (1, 2 and 4, the run's worker counts), each
a known factor of the fastest case with that many workers, so that one figure lands past 105%.
Expected texts are recomputed here from the raw JSON.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import matplotlib.axes
import pytest
from helpers import wcbench

from wcbench import results
from wcbench.report import comparison, findings
from wcbench.report import plots as report_plots
from wcbench.report.summary import summary_lines
from wcbench.units import (
    format_gbps,
    format_mbps,
    format_percent,
    format_size,
    format_time,
    format_time_spaced,
)
from wordcount.bandwidth import FALLBACK, NATIVE
from wordcount.executors import PROCESS_EXECUTORS

FIXTURE = Path(__file__).parent / "data" / "run_small.json"
MACHINE = "Linux-CPython-3.11-64bit"
KIB64, MIB = 64 << 10, 1 << 20
#: (size, threads) -> the read's seconds over the fastest case with that many workers.
FACTORS = {(KIB64, 1): 0.5, (KIB64, 2): 0.8, (KIB64, 4): 0.9,
           (MIB, 1): 1.1, (MIB, 2): 0.95, (MIB, 4): 0.6}
LEVELS = {KIB64: "cache", MIB: "memory"}
BEYOND = "beyond the read: noise to look at, not a result"


def cases_of(data: dict) -> list[dict]:
    return [{**b["extra_info"], "median": b["stats"]["median"], "name": b["name"]}
            for b in data["benchmarks"] if b["extra_info"]["kind"] == "wordcount"]


def fastest(data: dict, size: int, workers: int | None = None) -> dict:
    return min((c for c in cases_of(data) if c["text_bytes"] == size
                and workers in (None, c["workers"])), key=lambda c: c["median"])


def new_shape(method: str = NATIVE) -> dict:
    """The fixture with thread-labelled reads, as the suite now saves them."""
    data = json.loads(FIXTURE.read_text())
    old = [b for b in data["benchmarks"] if b["extra_info"]["kind"] == "memory-read"]
    data["benchmarks"] = [b for b in data["benchmarks"] if b not in old]
    for (size, threads), factor in FACTORS.items():
        seconds = factor * fastest(data, size, threads)["median"]
        data["benchmarks"].append({
            "name": f"test_memory_read[memory-read-{format_size(size)}-t{threads}]",
            "group": f"size {format_size(size)}",
            "stats": {"median": 3 * seconds, "rounds": 10},  # the Python wrapper's time
            "extra_info": {**old[0]["extra_info"], "text_bytes": size, "threads": threads,
                           "level": LEVELS[size], "method": method, "read_seconds": seconds,
                           "read_best_seconds": seconds * 0.9, "read_rounds": 10,
                           "gb_per_s": size / seconds / 1e9}})
    return data


def save(storage: Path, number: int, data: dict) -> Path:
    folder = storage / MACHINE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number:04d}_cb2180f_20261203_0930{number:02d}.json"
    path.write_text(json.dumps(data))
    return path


def read_of(data: dict, size: int, threads: int) -> float:
    return FACTORS[(size, threads)] * fastest(data, size, threads)["median"]


def label(size: int, threads: int) -> str:
    return f"{LEVELS[size]} read, {threads} thread{'s' if threads > 1 else ''}, native"


def test_reads_are_keyed_by_size_and_threads_with_their_labels(tmp_path: Path) -> None:
    data = new_shape()
    run = results.load_run(save(tmp_path, 1, data))
    assert sorted(run.memory_read) == sorted(FACTORS)
    for (size, threads), read in run.memory_read.items():
        assert read.seconds == read_of(data, size, threads)  # the C-timed median, not pytest's
        assert (read.threads, read.level, read.legacy) == (threads, LEVELS[size], False)
        assert read.label == label(size, threads)
    fallback = results.load_run(save(tmp_path, 2, new_shape(FALLBACK)))
    assert fallback.memory_read[(MIB, 2)].label == "numpy sum, 2 threads"


def test_every_case_is_against_the_read_of_its_worker_count(tmp_path: Path) -> None:
    data = new_shape()
    run = results.load_run(save(tmp_path, 1, data))
    for case in run.cases:
        found = run.read_match(case)
        assert found is not None, case.name
        assert (found.read.text_bytes, found.read.threads) == (case.text_bytes, case.workers)
        assert found.fraction == read_of(data, case.text_bytes, case.workers) / case.median
        assert found.processes is (case.executor in PROCESS_EXECUTORS)
    spawn = next(c for c in run.cases if c.name == "test_wordcount[numpy-processes-spawn-1MiB-w2]")
    pct = format_percent(read_of(data, MIB, 2) / spawn.median)
    assert run.read_match(spawn).describe() == (
        f"{pct} of the limit (memory read, 2 threads, native; 2 worker processes against "
        "2 threads reading)")


def test_findings_give_the_fastest_its_read_and_flag_past_105(tmp_path: Path) -> None:
    data = new_shape()
    run = results.load_run(save(tmp_path, 1, data))
    sentences = findings.winner_sentences(run)
    for size, sentence in zip((KIB64, MIB), sentences, strict=True):
        best = fastest(data, size)
        pct = format_percent(read_of(data, size, best["workers"]) / best["median"])
        expected = f", {pct} of the limit ({label(size, best['workers'])})"
        if size == MIB:  # 1.1x the fastest's own median: past 105%
            assert pct == "110%"
            expected += f": {BEYOND}."
        else:
            assert pct == "50%"
            expected += "."
        assert expected in sentence


def test_the_size_table_gives_every_case_its_percent(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("plot_throughput", "plot_memory_vs_size", "plot_time_vs_workers"):
        monkeypatch.setattr(report_plots, name, lambda *a: Path(str(a[-1])).touch())
    data = new_shape()
    save(tmp_path, 1, data)
    assert wcbench("report", ["--results", str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    for size in (KIB64, MIB):
        reads = "; ".join(
            f"{label(size, t)}: {format_time_spaced(read_of(data, size, t))}, "
            f"{format_mbps(size / read_of(data, size, t))} MB/s" for t in (1, 2, 4))
        assert (f"Limits, reading the same bytes once (median; a case with N workers, threads "
                f"or processes, is against the N-thread read): {reads}.") in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    checked = 0
    for case in cases_of(data):
        fraction = read_of(data, case["text_bytes"], case["workers"]) / case["median"]
        cell = format_percent(fraction) + ("*" if fraction > 1.05 else "")
        start = (f"| {case['kernel']} | {case['executor']} | {case['start_method'] or '–'} | "
                 f"{case['workers']} | {format_time_spaced(case['median'])} |")
        matching = [r for r in rows if r.startswith(start)]
        assert matching and all(r.endswith(f"| {cell} |") for r in matching), (start, cell)
        checked += 1
    assert checked == len(cases_of(data))
    assert "\\* above 105% of its read: beyond the read, noise to look at" in text


def test_summary_puts_the_fastest_beside_its_read(tmp_path: Path) -> None:
    data = new_shape()
    run = results.load_run(save(tmp_path, 1, data))
    lines = summary_lines(run.benchmarks, run.skipped)
    for size, line in zip((KIB64, MIB), lines[:2], strict=True):  # then the skipped line
        best = fastest(data, size)
        read = read_of(data, size, best["workers"])
        strategy = "-".join(p for p in (best["kernel"], best["executor"], best["start_method"])
                            if p)
        head = (f"{format_size(size)} ({sum(c['text_bytes'] == size for c in cases_of(data))} "
                f"cases): fastest {strategy} w{best['workers']} {format_time(best['median'])} "
                f"({format_gbps(size, best['median'])}; {format_percent(read / best['median'])}"
                f" of the limit: {label(size, best['workers'])}, {format_gbps(size, read)}")
        assert line.startswith(head + (f"; {BEYOND})" if size == MIB else ")")), line


def test_comparison_sets_reads_against_reads_of_the_same_threads(tmp_path: Path) -> None:
    data = new_shape()
    halved = copy.deepcopy(data)
    for bench in halved["benchmarks"]:
        if bench["extra_info"]["kind"] == "memory-read":
            bench["extra_info"]["read_seconds"] /= 2
    base, new = (results.load_run(save(tmp_path, n, d)) for n, d in ((1, data), (2, halved)))
    table = comparison.ratio_table(base, new, comparison.pairs_of(base, new), MIB)
    rows = [line for line in table if "read, " in line]
    assert [r.split(" | ")[0] for r in rows] == [f"| {label(MIB, t)}" for t in (1, 2, 4)]
    assert all(r.split(" | ")[6] == "0.500×" for r in rows)
    old = results.load_run(FIXTURE)  # numpy's sum against a native read: no ratio
    assert not [line for line in comparison.ratio_table(
        old, new, comparison.pairs_of(old, new), MIB) if "read, " in line or "numpy sum" in line]


def test_the_throughput_plot_draws_one_line_per_thread_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = new_shape()
    run = results.load_run(save(tmp_path, 1, data))
    drawn: list[tuple[float, str]] = []
    original = matplotlib.axes.Axes.axvline

    def record(self, x=0, *args, **kwargs):
        drawn.append((x, kwargs.get("label")))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "axvline", record)
    report_plots.plot_throughput(run, tmp_path / "throughput.png")
    assert drawn == [(size / read_of(data, size, t) / 1e6,
                      f"{label(size, t)}: {format_mbps(size / read_of(data, size, t))} MB/s")
                     for size in (KIB64, MIB) for t in (1, 2, 4)]
