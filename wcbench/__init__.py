"""The benchmark side of wordcount-bench: measure, compare and explain what each strategy costs.

Laid out by job, as the ``wcbench`` command is:

- the shared core, here at the top: :mod:`~wcbench.units` (every unit read or printed),
  :mod:`~wcbench.matrix` (which cases run), :mod:`~wcbench.corpus` (the seeded texts),
  :mod:`~wcbench.memory` (a call's memory, untimed), :mod:`~wcbench.estimate` (memory a case will
  need), :mod:`~wcbench.machine` (what ran it), :mod:`~wcbench.results` (saved runs, the one
  reader of pytest-benchmark's JSON), :mod:`~wcbench.storage` (atomic, safely numbered saves),
  :mod:`~wcbench.stopping` (SIGTERM and SIGHUP as Ctrl-C) and :mod:`~wcbench.scaling` (the cost
  model);
- the command families, each a subpackage built on the core: :mod:`wcbench.compare` (two saved
  runs), :mod:`wcbench.ab` (old and new code side by side), :mod:`wcbench.report` (Markdown and
  plots), :mod:`wcbench.flamegraphs` (memray captures of every process), :mod:`wcbench.session`
  (the benchmark session's pytest plugin, its journal, ``wcbench recover``);
- the front door: :mod:`wcbench.cli` (the ``wcbench`` console script) and
  :mod:`wcbench.commands` (one small module per subcommand, parsing only).

Imports go one way: core <- families <- commands <- cli, and all of it on ``wordcount``'s public
API (and ``wordcount.procmem``); ``wordcount`` never imports ``wcbench``. Reporting reads saved
JSON only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from wcbench.measure.tree import TreeMeasurement

__all__ = ["measure_tree"]


def measure_tree(**options: Any) -> AbstractContextManager[TreeMeasurement]:
    """Measure this process and every process it starts during a ``with`` block: the tree's
    peak (summed PSS, sampled by a separate process), this process's exact peak, every process
    with its role, start method and peaks, and the bytes multiprocessing pickled each way.

    >>> import wcbench
    >>> with wcbench.measure_tree() as m:                       # doctest: +SKIP
    ...     counts = word_count(text, processes=2, start_method="spawn")
    >>> m.peak_tree_bytes, m.peak_parent_bytes, m.copied_bytes   # doctest: +SKIP
    (1419894784, 352321536, 1073742208)
    >>> for p in m.processes:                                   # doctest: +SKIP
    ...     print(p.label, p.pid, p.peak_pss_bytes, p.pickled_bytes)

    Options: ``interval`` (seconds between samples, default 0.002), ``timeline`` (keep the
    tree's PSS over time in ``m.figures.timeline``), ``count_pickles`` (default True). See
    :func:`wcbench.measure.tree.measure_tree` and docs/measure-your-code.md.
    """
    from wcbench.measure.tree import measure_tree as measure

    return measure(**options)
