"""A/B comparisons (``wcbench ab``): BASE and NEW code or interpreters timed in turn.

:mod:`~wcbench.ab.sides` makes each side (a checkout, an interpreter, a worker process),
:mod:`~wcbench.ab.worker` is that process, :mod:`~wcbench.ab.run` runs the rounds,
:mod:`~wcbench.ab.instructions` counts each side's calls under callgrind instead or as well,
:mod:`~wcbench.ab.result` is the result, typed, as it is saved and read back,
:mod:`~wcbench.ab.stats` says how sure a verdict is, :mod:`~wcbench.ab.text` and
:mod:`~wcbench.ab.page` render a saved comparison, and :mod:`~wcbench.ab.validate` measures how
often the whole thing is right on this machine (``wcbench ab-validate``).
"""
