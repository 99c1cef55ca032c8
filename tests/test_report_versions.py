"""``wcbench report --across``: several runs side by side, a column per Python, figures per run.

Built from the committed test runs (CPython 3.11.7 and a free-threaded 3.13t) and a copy of the
3.11 run relabelled as 3.14 (whose default start method, not recorded in a run that old, is
inferred as forkserver). Each cell is checked against the saved medians and peaks themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import helpers

from wcbench.report.findings import strategy_label
from wcbench.report.versions import across_lines
from wcbench.results import load_run
from wcbench.units import format_ratio

DATA = Path(__file__).parent / "data" / "results"
PY311 = next(DATA.glob("Linux-CPython-3.11-64bit/0001_*.json"))
PY313T = next(DATA.glob("Linux-CPython-3.13-64bit/0001_*.json"))


def _as_314(tmp_path: Path) -> Path:
    data = json.loads(PY311.read_text())
    data["machine_info"]["python_version"] = "3.14.10"
    path = tmp_path / "Linux-CPython-3.14-64bit" / "0001_as314.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path


def _cells(lines: list[str]) -> dict[str, list[str]]:
    rows = [line for line in lines if line.startswith("| ") and "·" in line]
    return {row.split(" | ")[0][2:]: row.strip(" |").split(" | ")[1:] for row in rows}


def test_each_cell_is_its_own_run_s_figures(tmp_path: Path) -> None:
    runs = [load_run(PY311), load_run(PY313T), load_run(_as_314(tmp_path))]
    lines = across_lines(runs, "32MiB")
    head = next(line for line in lines if line.startswith("| strategy"))
    assert head == ("| strategy | 3.11.7 (default fork) | 3.13.15t (GIL off) (default fork) | "
                    "3.14.10 (default forkserver) |")
    cells = _cells(lines)
    for col, run in enumerate(runs):
        at = [c for c in run.cases if c.text_bytes == 32 << 20]
        base = next(c for c in at if (c.kernel, c.executor) == ("split", "serial"))
        for case in at:
            if any(o.strategy == case.strategy and o.workers > case.workers for o in at):
                continue  # the most workers of a strategy are shown
            star = "\\*" if case.start_method == ("forkserver" if col == 2 else "fork") else ""
            want = (f"{format_ratio(base.median / case.median)}{star} · "
                    f"{format_ratio(case.peak_tree_bytes / case.text_bytes)}")
            assert cells[strategy_label(*case.strategy)][col] == want, (col, case.name)
    # a strategy one run lacks is a dash there, not a zero
    only_311 = next(k for k, v in cells.items() if v[1] == "–")
    assert cells[only_311][0] != "–"


def test_the_command_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "pythons.md"
    status = helpers.wcbench("report", ["--results", str(DATA), "--across", str(PY311),
                                        str(PY313T), "--output", str(out)])
    assert status == 0
    page = out.read_text()
    assert page.startswith("# The same job on 2 Pythons, at 32MiB\n")
    assert "split in threads, against serial split: 3.11.7" in page
    assert f"`{PY313T}`" in page


def test_a_run_without_cases_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    empty = json.loads(PY311.read_text())
    empty["benchmarks"] = []
    path = tmp_path / "Linux-CPython-3.11-64bit" / "0002_empty.json"
    path.parent.mkdir()
    path.write_text(json.dumps(empty))
    assert helpers.wcbench("report", ["--results", str(tmp_path), "--across", str(PY311),
                                      str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to compare" in err[0]
