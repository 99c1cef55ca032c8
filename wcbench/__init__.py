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
