"""The report and the run summary of a run that has ``interpreters`` cases and a refused one.

The run is the small fixture (``tests/data/run_small.json``) with ``split`` on ``interpreters``
added, made from its ``threads`` cases with figures changed so that no executor ties, and the
refused ``numpy-interpreters`` pair skipped as the benchmark skips it. Expected values are
recomputed here from the raw JSON, not taken from the report module.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from test_report import raw, save

from wcbench import results
from wcbench.report import findings
from wcbench.report.markdown import report_lines
from wcbench.report.summary import summary_lines
from wcbench.units import format_bytes_spaced, format_ratio, format_size, format_time_spaced
from wordcount.executors import REFUSED

REFUSAL = REFUSED[("numpy", "interpreters")]


def with_interpreters() -> dict:
    """The fixture with ``split · interpreters`` cases (0.6x the threads' time, 3 MiB more
    memory, nothing copied, no workers) and the refused numpy pair skipped at each size."""
    data = raw()
    added = []
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if info.get("kind") == "wordcount" and (info["kernel"], info["executor"]) == \
                ("split", "threads"):
            new = copy.deepcopy(bench)
            new["name"] = bench["name"].replace("-threads-", "-interpreters-")
            new["extra_info"].update(executor="interpreters", peak_workers_bytes=0,
                                     copied_bytes=0,
                                     peak_tree_bytes=info["peak_tree_bytes"] + (3 << 20))
            new["stats"]["median"] = bench["stats"]["median"] * 0.6
            added.append(new)
    data["benchmarks"] += added
    data["wordcount_skipped"] += [
        {"name": f"test_wordcount[numpy-interpreters-{size}-w2]", "reason": REFUSAL}
        for size in ("64KiB", "1MiB")]
    return data


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> results.SavedRun:
    return results.load_run(save(tmp_path_factory.mktemp("results"), 1, with_interpreters()))


def _expected(data: dict) -> list[str]:
    """The side-by-side sentence per kernel, from the raw JSON."""
    cases = [{**b["extra_info"], "median": b["stats"]["median"]} for b in data["benchmarks"]
             if b["extra_info"].get("kind") == "wordcount"]
    interp = [c for c in cases if c["executor"] == "interpreters"]
    size = max(c["text_bytes"] for c in interp)
    workers = max(c["workers"] for c in interp if c["text_bytes"] == size)
    best: dict[str, dict] = {}
    for c in cases:
        if (c["kernel"], c["text_bytes"], c["workers"]) != ("split", size, workers) or \
                c["executor"] not in ("interpreters", "threads", "processes", "shared-memory"):
            continue
        if c["executor"] not in best or c["median"] < best[c["executor"]]["median"]:
            best[c["executor"]] = c
    parts = []
    for executor in ("interpreters", "threads", "processes", "shared-memory"):
        c = best[executor]
        method = f" ({c['start_method']})" if c["start_method"] else ""
        parts.append(f"{executor}{method} {format_time_spaced(c['median'])} (tree peak "
                     f"{format_bytes_spaced(c['peak_tree_bytes'])}, "
                     f"{format_bytes_spaced(c['copied_bytes'])} copied)")
    own = best["interpreters"]["median"]
    rivals = [f"{format_ratio(best[e]['median'] / own)} the speed of {e}"
              for e in ("threads", "processes", "shared-memory")]
    return [f"At {format_size(size)} with {workers} workers, split takes {', '.join(parts[:-1])} "
            f"and {parts[-1]}; subinterpreters run at {', '.join(rivals[:-1])} and "
            f"{rivals[-1]}."]


def test_subinterpreters_are_set_beside_threads_processes_and_shared_memory(
        run: results.SavedRun) -> None:
    data = with_interpreters()
    sentences = findings.interpreter_sentences(run)
    assert sentences[:-1] == _expected(data)
    assert "Per-worker peaks are 0 for interpreters, as for threads" in sentences[-1]
    assert "in the caller's process" in sentences[-1]
    assert set(sentences) <= set(findings.findings(run))


def test_a_run_without_interpreters_has_no_such_sentence(tmp_path: Path) -> None:
    old = results.load_run(save(tmp_path, 1, raw()))
    assert findings.interpreter_sentences(old) == []


def test_nonzero_worker_peaks_are_not_called_zero(tmp_path: Path) -> None:
    data = with_interpreters()
    for bench in data["benchmarks"]:
        if bench["extra_info"].get("executor") == "interpreters":
            bench["extra_info"]["peak_workers_bytes"] = 4096
    sentences = findings.interpreter_sentences(results.load_run(save(tmp_path, 1, data)))
    assert not any("Per-worker peaks are 0" in s for s in sentences)


def test_the_refused_pair_is_called_refused_with_its_reason(run: results.SavedRun) -> None:
    page = "\n".join(report_lines(run, {}))
    assert "Refused by the executor:" in page
    assert f"- `test_wordcount[numpy-interpreters-1MiB-w2]`: {REFUSAL}" in page
    refused_block = page.split("Refused by the executor:")[1].split("\n\n")[1]
    assert "exceeds" not in refused_block

    lines = summary_lines(run.benchmarks, run.skipped)
    estimate = next(line for line in lines if line.startswith("skipped by the memory estimate"))
    assert "numpy-interpreters" not in estimate
    assert lines[-1] == ("refused (2): test_wordcount[numpy-interpreters-64KiB-w2], "
                         f"test_wordcount[numpy-interpreters-1MiB-w2]: {REFUSAL}")
