"""Find the other CPythons on this machine that have subinterpreters, and run tests under them.

The suite runs under one interpreter (``make test``: the checkout's ``.venv``, CPython 3.11 here),
but the ``interpreters`` executors exist only on CPython 3.13 and newer. So the suite itself looks
for every such interpreter with the GIL (a free-threaded build is another matter, see
``test_free_threaded``): names on ``PATH`` and pyenv's versions (``$PYENV_ROOT/versions``, by
default ``~/.pyenv``), and the Pythons of a Debian unstable root beside the machine's own
(``$SID_ROOT``, by default ``/opt/sid``: CPython 3.14 and 3.15 on this project's machines, made
by ``sid-python.sh setup`` and run inside it by ``sid-python.sh run``; docs/pythons.md), each asked
what it is, in a subprocess. Each found one gets a virtual environment in the checkout, made the
way the README says (``make install PYTHON=<path>``, ``.venv-python3.13``), kept between runs, so
only the first run pays for it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The versions looked for on ``PATH`` by name (``python3.13`` ...).
MINORS = range(13, 20)
#: What a found binary is asked; ``os.getcwd()`` fails where it cannot see this checkout.
_PROBE = ("import json, os, sys, sysconfig; os.getcwd(); "
          "print(json.dumps([sys.implementation.name, list(sys.version_info[:3]), "
          "bool(sysconfig.get_config_var('Py_GIL_DISABLED')), sys.executable]))")
#: Seconds allowed to make a virtual environment (pip installs numpy, memray, Dask...).
INSTALL_TIMEOUT = 900
#: Seconds allowed to the tests run there.
RUN_TIMEOUT = 600


#: The Debian unstable root holding CPython 3.14 and 3.15 (docs/pythons.md)...
SID_ROOT = Path(os.environ.get("SID_ROOT", "/opt/sid"))
#: ...and the script that runs a command inside it, with this checkout mounted at its own path.
SID_SCRIPT = Path(os.environ.get("SID_PYTHON_SCRIPT",
                                 ROOT.parent / "shared" / "tools" / "sid-python.sh"))


@dataclass(frozen=True)
class Python:
    """A CPython found on this machine; ``runner`` is what runs a command where it lives (empty:
    here; else the root's script)."""

    path: str
    version: tuple[int, int, int]
    runner: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        where = "-in-root" if self.runner else ""
        return "cpython-" + ".".join(map(str, self.version)) + where


def is_mountpoint(path: Path) -> bool:
    """Whether ``path`` is a mount point; a bind mount on the same file system is not one
    ``os.path.ismount`` sees."""
    return subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode == 0


def unmount_stale_checkout(checkout: Path = ROOT) -> bool:
    """Unmount the root's view of this checkout's path where it shows another directory.

    The root's script mounts the checkout at its own path inside, once, and leaves the mount
    in place. A checkout deleted and cloned again at the same path (a CI runner's fresh clone)
    then finds the old, deleted directory mounted there: ``make`` inside fails with "getcwd: No
    such file or directory". Unmounted, the script's next ``run`` mounts this one.
    True if it unmounted one.
    """
    inside = SID_ROOT / checkout.relative_to(checkout.anchor)
    # a deleted directory has no links left (its inode number may already be the new clone's)
    if not is_mountpoint(inside) or os.stat(inside).st_nlink > 0:
        return False
    subprocess.run(["umount", str(inside)], check=True, capture_output=True, timeout=60)
    return True


def _rooted() -> list[Python]:
    """The root's Pythons, when it exists and this process can enter it (root, the script)."""
    if not SID_ROOT.is_dir() or not SID_SCRIPT.is_file() or os.geteuid() != 0:
        return []
    unmount_stale_checkout()
    runner = ("sh", str(SID_SCRIPT), "run")
    found = []
    for m in MINORS:
        if (SID_ROOT / "usr" / "bin" / f"python3.{m}").exists():
            about = _ask(f"python3.{m}", runner)
            if about is not None and about[0] == "cpython" and not about[2]:
                found.append(Python(about[3], about[1], runner))
    return found


def _candidates() -> list[str]:
    """Binaries named ``python3.13`` or later on ``PATH`` and in pyenv's versions."""
    names = [shutil.which(f"python3.{m}") for m in MINORS]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = glob.glob(os.path.join(root, "versions", "*", "bin", "python3.*"))
    pyenv = [p for p in found if re.fullmatch(r"python3\.(\d+)", os.path.basename(p))
             and int(os.path.basename(p)[8:]) in MINORS]
    return [p for p in names if p] + sorted(pyenv)


def _ask(path: str, runner: tuple[str, ...] = ()
         ) -> tuple[str, tuple[int, int, int], bool, str] | None:
    """What ``path`` is, or None where it does not run (a pyenv shim with no version chosen)."""
    try:
        out = subprocess.run([*runner, path, "-c", _PROBE], capture_output=True, text=True,
                             timeout=120, check=False, cwd=ROOT)
    except OSError:
        return None
    if out.returncode != 0:
        return None
    name, version, free_threaded, executable = json.loads(out.stdout)
    return name, tuple(version), free_threaded, executable  # type: ignore[return-value]


def _this_python() -> str:
    """The interpreter running this, behind any virtual environment."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


@cache
def other_pythons() -> list[Python]:
    """Every CPython >= 3.13 with the GIL here, other than the one running, one per binary."""
    found: dict[str, Python] = {}
    for path in _candidates():
        about = _ask(path)
        if about is None:
            continue
        name, version, free_threaded, executable = about
        real = os.path.realpath(executable)
        if name != "cpython" or version[:2] < (3, 13) or free_threaded:
            continue
        if real == _this_python() or real in found:
            continue
        found[real] = Python(real, version)
    here = {p.version[:2] for p in found.values()} | {sys.version_info[:2]}
    rooted = [p for p in _rooted() if p.version[:2] not in here]
    return sorted([*found.values(), *rooted], key=lambda p: p.version)


def venv_for(python: Python) -> Path:
    """Its virtual environment in the checkout: the Makefile's name (``.venv-python3.13``) for
    the first binary of that name, a versioned one for another of the same name."""
    version = ".".join(map(str, python.version))
    name = f".venv-{os.path.basename(python.path)}"
    cfg = ROOT / name / "pyvenv.cfg"
    if cfg.exists():
        fields = dict(line.split(" = ", 1) for line in cfg.read_text().splitlines()
                      if " = " in line)
        if fields.get("version", fields.get("version_info", version)).strip() != version:
            name = f".venv-python{version}"
    return ROOT / name


def run_tests_under(python: Python, paths: list[str]) -> subprocess.CompletedProcess[str]:
    """``make install`` for ``python`` (quick once done), then ``pytest paths`` in its venv."""
    venv = venv_for(python)
    install = subprocess.run([*python.runner, "make", "-C", str(ROOT), "install",
                              f"PYTHON={python.path}", f"VENV={venv.name}"], cwd=ROOT,
                             capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    if install.returncode != 0:
        raise AssertionError(f"make install PYTHON={python.path} failed:\n"
                             f"{install.stdout[-3000:]}{install.stderr[-3000:]}")
    return subprocess.run([*python.runner, str(venv / "bin" / "python"), "-m", "pytest", *paths,
                           "-q", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT, check=False)
