"""wcbench's start-up hook: this directory is put first on ``PYTHONPATH`` of a measured command,
so every Python process of its tree imports this file as it starts (``site`` imports
``sitecustomize``). It loads the probe (``_wcbench_probe``) when ``WCBENCH_PROBE_DIR`` is set,
then runs the ``sitecustomize`` this one shadows, if the interpreter has one, so nothing the
program relies on is lost. Standard library only: the command's Python need not have wcbench.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _load_probe() -> None:
    try:
        import _wcbench_probe

        _wcbench_probe.load_from_environment()
    except Exception as exc:  # never stop the program; say why it is not measured
        sys.stderr.write(f"wcbench probe: not loaded in pid {os.getpid()}: {exc!r}\n")


def _run_shadowed() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_load_probe()
_run_shadowed()
