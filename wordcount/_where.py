"""Which interpreter this code runs in: the main one, or a subinterpreter (Python 3.13+)."""

from __future__ import annotations


def in_subinterpreter() -> bool:
    """True inside a subinterpreter, where numpy cannot load and start-up is paid per call."""
    try:
        import _interpreters
    except ImportError:  # before 3.13: there is only the main interpreter to Python code
        return False
    return _interpreters.get_current()[0] != _interpreters.get_main()[0]
