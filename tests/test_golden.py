"""Golden output: ``wcbench report``, ``wcbench compare`` and ``wcbench summary`` print exactly
what they printed for the committed runs when this test was written.

The inputs are copies of the committed runs (``tests/data/results/<machine>/0001_*.json``, the
layout of pytest-benchmark's storage) and ``tests/data/run_small.json`` (a small run with cases
skipped by the memory estimate). Each command runs in-process from a scratch folder holding those
copies under ``results/``, so the paths it prints are the ones ``make report`` prints in a
checkout. The expected texts are in ``tests/data/golden/``: whole outputs, compared for equality,
so a refactoring of the reporting code provably changes nothing a reader sees. The plots'
pixels are not held here (``tests/test_report.py`` draws and checks them): drawing is replaced
by writing an empty file, which keeps these tests to about a second.

After a deliberate change of output, regenerate them with ``.venv/bin/python tests/test_golden.py``
and review the diff of ``tests/data/golden/`` like code.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wcbench.cli import main
from wcbench.report import plots as report_plots

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
COMMIT = "54172054200d59a36927c3f05ff69471b6a11c5e"
RUN_311 = f"results/Linux-CPython-3.11-64bit/0001_{COMMIT}_20261125_110112.json"
RUN_313 = f"results/Linux-CPython-3.13-64bit/0001_{COMMIT}_20261125_110059.json"
RUN_SMALL = "small/Linux-CPython-3.11-64bit/0001_cb2180f_20261125_100023.json"

#: golden name -> (wcbench subcommand, arguments, file it writes whose text is also golden)
SCENARIOS: dict[str, tuple[str, list[str], str | None]] = {
    "report": ("report", ["--results", "results"], "results/report.md"),
    "report-base-new": ("report", ["--results", "results", "--base", RUN_311, "--new", RUN_313,
                                      "--output", "results/free-threaded.md"],
                        "results/free-threaded.md"),
    "report-base-latest": ("report", ["--results", "results", "--base", RUN_313, "--output",
                                         "results/base-latest.md"], "results/base-latest.md"),
    "report-small": ("report", ["--results", "small"], "small/report.md"),
    "compare-default": ("compare", ["--storage", "results", "--machine",
                                       "Linux-CPython-3.11-64bit"], None),
    "compare-311-313": ("compare", ["--storage", "results", "--base", RUN_311, "--new",
                                       RUN_313], None),
    "compare-313-311": ("compare", ["--storage", "results", "--base", RUN_313, "--new",
                                       RUN_311], None),
    "compare-small": ("compare", ["--storage", "small", "--machine",
                                     "Linux-CPython-3.11-64bit", "--base", "1", "--new", "1"],
                      None),
    "summary": ("summary", [RUN_311, RUN_313, RUN_SMALL], None),
}


def stage(folder: Path) -> None:
    """Lay out the inputs in ``folder`` as the commands expect them."""
    shutil.copytree(DATA / "results", folder / "results")
    small = folder / RUN_SMALL
    small.parent.mkdir(parents=True)
    shutil.copyfile(DATA / "run_small.json", small)


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def run(folder: Path, name: str) -> dict[str, str]:
    """One scenario's outputs: ``NAME.txt`` (exit status, stdout, stderr) and the file written."""
    command, args, written = SCENARIOS[name]
    out, err = io.StringIO(), io.StringIO()
    with inside(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([command, *args])
    texts = {f"{name}.txt": f"exit {status}\n--- stdout\n{out.getvalue()}--- stderr\n"
                            f"{err.getvalue()}"}
    if written is not None:
        texts[f"{name}.md"] = (folder / written).read_text()
    return texts


def _no_drawing(*args: object) -> None:
    Path(str(args[-1])).touch()  # every plot function takes the file to draw last


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("golden")
    stage(folder)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("plot_throughput", "plot_memory_vs_size", "plot_time_vs_workers"):
            patch.setattr(report_plots, name, _no_drawing)
        yield folder


@pytest.mark.parametrize("name", SCENARIOS)
def test_output_is_unchanged(staged: Path, name: str) -> None:
    for file, text in run(staged, name).items():
        assert text == (GOLDEN / file).read_text(), f"{file} differs from tests/data/golden/{file}"


def test_golden_files_are_all_used() -> None:
    """A golden file no scenario produces would be a check that silently checks nothing."""
    expected = {f"{n}.txt" for n in SCENARIOS} | {f"{n}.md" for n, s in SCENARIOS.items() if s[2]}
    assert {p.name for p in GOLDEN.iterdir()} == expected


def regenerate() -> None:
    """Rewrite ``tests/data/golden/`` from the current code."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        stage(Path(tmp))
        GOLDEN.mkdir(exist_ok=True)
        for name in SCENARIOS:
            for file, text in run(Path(tmp), name).items():
                (GOLDEN / file).write_text(text)
                print(f"wrote {GOLDEN / file}")


if __name__ == "__main__":
    regenerate()
    sys.exit(0)
