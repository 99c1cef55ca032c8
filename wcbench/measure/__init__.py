"""Measuring any program's process tree: ``wcbench measure`` (a command), ``measure_tree`` (a
block of Python) and the pytest plugin's memory call, all on one mechanism: the sampler process
outside the tree (:mod:`wcbench.sampler`) and the probe inside each Python process
(:mod:`wcbench.probe`). ``tree`` joins the two; ``command`` runs and stops commands; ``run`` is
``wcbench measure``; ``save`` writes a run in the suite's format; ``output`` prints and plots."""
