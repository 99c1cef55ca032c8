"""The benchmark session's options, read from pytest's config: the cases, the text, the budgets.

The root ``conftest.py`` declares them (the matrix options through
:func:`wcbench.matrix.add_matrix_options`, as ``wcbench ab`` and ``wcbench flamegraphs`` do);
they are read here, once, for the benchmark module and for the run's record. A bad value is a
usage error (pytest's exit status 4) that says it is the matrix's.

``--memory-limit`` and ``--time-limit`` keep the names users know; here they are budgets: what a
case may hold, and how long it may take, before it is skipped with its estimate.
``--instructions`` counts each case's instructions too (:func:`callgrind`; the counting itself
is :func:`wcbench.ab.instructions.count_case`, the A/B worker under callgrind).
"""

from __future__ import annotations

import pytest

from wcbench.ab.instructions import Callgrind, find_valgrind
from wcbench.ab.sides import AbError
from wcbench.matrix import DEFAULT_CORPUS, DEFAULT_MATRIX, Case, Preset, Selection, preset
from wcbench.units import parse_size

#: The options (pytest's ``dest`` names) that narrow or replace a named matrix's lists, saved
#: with the run when given (:func:`given_options`).
MATRIX_OPTIONS = ("sizes", "workers", "kernels", "executors", "start_methods", "corpus",
                  "corpus_file", "memory_limit", "time_limit")
_SELECTION = ("sizes", "workers", "kernels", "executors", "start_methods", "corpus",
              "corpus_file")


def selection(config: pytest.Config) -> Selection:
    """The lists and the text the options ask for (``ValueError`` on a bad size or count)."""
    return Selection.parse(**{name: config.getoption(name) for name in _SELECTION})


def matrix_name(config: pytest.Config) -> str:
    """``--matrix NAME`` as given, else the default's name (``quick``)."""
    return config.getoption("matrix") or DEFAULT_MATRIX


def chosen_preset(config: pytest.Config) -> Preset:
    """The named matrix (``wcbench.matrix.PRESETS``); ``ValueError`` for an unknown name."""
    return preset(matrix_name(config))


def chosen_cases(config: pytest.Config) -> list[Case]:
    """The cases to run: the named preset's, with the lists given beside it replacing its own;
    every option checked first (a usage error names the bad one)."""
    try:
        memory_budget(config)
        time_budget(config)
        return selection(config).preset_cases(chosen_preset(config))
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"benchmark matrix: {exc}") from None


def memory_budget(config: pytest.Config) -> int | None:
    """Bytes a case may hold with its text (``--memory-limit``), or None: what is available."""
    text = config.getoption("memory_limit")
    return parse_size(text) if text else None


def time_budget(config: pytest.Config) -> float | None:
    """Seconds a case may take (``--time-limit``, else the preset's own), or None."""
    text = config.getoption("time_limit")
    if text:
        try:
            budget = float(text)
        except ValueError:
            raise ValueError(f"--time-limit must be a number of seconds, got {text!r}") from None
        if budget <= 0:
            raise ValueError(f"--time-limit must be positive, got {text!r}")
        return budget
    return chosen_preset(config).time_budget


_CALLGRIND = pytest.StashKey["Callgrind | None"]()


def callgrind(config: pytest.Config) -> Callgrind | None:
    """The valgrind that counts instructions when ``--instructions`` is given (found once, when
    the session is configured), else None. Where valgrind is missing or does not run, the
    session ends there: one line (``Exit: --instructions: no valgrind ...``), exit status 2,
    as ``wcbench ab --measure instructions`` does."""
    if not config.getoption("instructions", False):
        return None
    if _CALLGRIND not in config.stash:
        try:
            config.stash[_CALLGRIND] = find_valgrind()
        except AbError as exc:
            pytest.exit(f"--instructions: {exc}", returncode=2)
    return config.stash[_CALLGRIND]


def given_options(config: pytest.Config) -> dict[str, str]:
    """The matrix options given on the command line, as given: saved with the run."""
    return {name: config.getoption(name) for name in MATRIX_OPTIONS
            if config.getoption(name) not in ("", DEFAULT_CORPUS)}
