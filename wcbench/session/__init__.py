"""The benchmark session (``make bench``, ``pytest bench``) that loses nothing it measured.

:mod:`~wcbench.session.plugin` is the pytest plugin the root ``conftest.py`` registers: SIGTERM
and SIGHUP stop a run as Ctrl-C does, finished cases are saved and the run says it is incomplete;
:mod:`~wcbench.session.journal` writes each finished case to disk the moment it finishes, so a
SIGKILL loses none; :mod:`~wcbench.session.recover` turns a journal left behind into a saved run
(``wcbench recover``). Atomic, safely numbered saves are :mod:`wcbench.storage`, in the core.
"""
