"""The two sides of an A/B comparison: whose code, which interpreter, and the process running it.

A side is a checkout of the ``wordcount`` package and an interpreter. A git revision is exported
(``git archive``, which leaves the repository untouched) into a temporary folder; ``worktree``
is the current checkout as it is, uncommitted changes included. Each side runs
``wcbench/ab/worker.py`` processes (one per block of rounds) from the current tree, with
``PYTHONPATH`` pointing at the side's checkout, talking JSON lines over a pipe. Anything that
keeps a side from running is an ``AbError``: the CLI prints it as one line and exits with
status 2.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: The name that means the current checkout, uncommitted changes included.
WORKTREE = "worktree"
#: The current tree: the harness (and ``worker.py``) always come from here.
ROOT = Path(__file__).resolve().parents[2]
#: Exported beside ``wordcount/`` when a revision has them: what building its C extensions needs
#: (not pyproject.toml: its metadata may need a newer setuptools than the side's interpreter has).
BUILD_FILES = ("setup.py", "csrc")
#: How long one request to a side may take before the side is declared hung (seconds).
REQUEST_TIMEOUT = 600.0


class AbError(Exception):
    """A comparison that cannot run (exit status 2), said in one line."""


def _git(*args: str, cwd: Path) -> str:
    if shutil.which("git") is None:
        raise AbError("git is not installed: it is needed to check out a revision")
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise AbError(f"git {' '.join(args)}: {done.stderr.strip().splitlines()[-1:] or '?'}")
    return done.stdout.rstrip()


def _in_git_repo(path: Path) -> bool:
    if shutil.which("git") is None:
        return False
    done = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=path, capture_output=True)
    return done.returncode == 0


@dataclass
class Checkout:
    """Where a side's ``wordcount`` package lives, and which commit it is."""

    rev: str
    path: Path
    commit: str | None
    dirty: list[str] = field(default_factory=list)
    temporary: bool = False

    def describe(self) -> str:
        what = self.rev if self.commit is None else f"{self.rev} ({self.commit[:10]})"
        return what + (f" + {len(self.dirty)} uncommitted file(s)" if self.dirty else "")

    def remove(self) -> None:
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def worktree_checkout(repo: Path) -> Checkout:
    """The checkout ``repo`` as it is; refused when git shows unresolved conflicts in it."""
    if not (repo / "wordcount" / "__init__.py").is_file():
        raise AbError(f"{repo} has no wordcount package")
    if not _in_git_repo(repo):
        return Checkout(WORKTREE, repo, None)
    commit = _git("rev-parse", "HEAD", cwd=repo)
    status = _git("status", "--porcelain", "--untracked-files=normal", "--", "wordcount",
                  cwd=repo)
    lines = [line for line in status.splitlines() if line]
    conflicted = [line[3:] for line in lines if "U" in line[:2] or line[:2] in ("AA", "DD")]
    if conflicted:
        raise AbError(f"the working tree has unresolved conflicts: {', '.join(conflicted)}")
    return Checkout(WORKTREE, repo, commit, dirty=[line[3:] for line in lines])


def revision_checkout(rev: str, repo: Path) -> Checkout:
    """``rev``'s ``wordcount`` exported from ``repo`` into a temporary folder (the caller
    removes it)."""
    if shutil.which("git") is None:
        raise AbError(f"git is not installed: it is needed to check out {rev!r}")
    if not _in_git_repo(repo):
        raise AbError(f"{repo} is not a git repository: cannot check out {rev!r}")
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise AbError(f"unknown revision {rev!r}")
    commit = done.stdout.strip()
    if not _git("ls-tree", "--name-only", commit, "wordcount/__init__.py", cwd=repo):
        raise AbError(f"revision {rev!r} ({commit[:10]}) has no wordcount package")
    path = Path(tempfile.mkdtemp(prefix=f"wcbench-ab-{commit[:10]}-"))
    checkout = Checkout(rev, path, commit, temporary=True)
    listed = _git("ls-tree", "--name-only", commit, *BUILD_FILES, cwd=repo).splitlines()
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", commit, "wordcount",
                                  *listed], cwd=repo, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(path, filter="data")
    except BaseException:
        checkout.remove()
        raise
    return checkout


def build_extensions(co: Checkout, python: str) -> str:
    """Compile a revision's C extensions in place with its side's interpreter (the working
    tree has them from ``make install``); what happened, for the record. A failed build leaves
    the side without them: a case that needs one then stops with the package's own message."""
    if not co.temporary or not (co.path / "setup.py").is_file():
        return "nothing to build"
    done = subprocess.run([python, "setup.py", "--quiet", "build_ext", "--inplace"],
                          cwd=co.path, capture_output=True, text=True)
    if done.returncode != 0:
        return "build failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return "built in place"


def checkout(rev: str, repo: Path = ROOT) -> Checkout:
    """The checkout for ``rev`` in ``repo``: ``worktree`` or a git revision."""
    return worktree_checkout(repo) if rev == WORKTREE else revision_checkout(rev, repo)


def find_python(python: str, role: str) -> str:
    """The interpreter's path; ``AbError`` naming the make variable when it does not exist."""
    found = shutil.which(python)
    if found is None:
        raise AbError(f"no interpreter {python!r} ({role})")
    return found


class Worker:
    """One side's ``worker.py`` process and its pipe; ``request`` sends and waits (``send`` and
    ``receive`` apart, to keep both sides busy at once).

    ``prefix``: a command the interpreter runs under (valgrind's, for instruction counts);
    ``env``: variables set for it beside the side's ``PYTHONPATH``.
    """

    def __init__(self, label: str, python: str, checkout: Checkout,
                 prefix: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.label = label
        self.checkout = checkout
        environ = dict(os.environ, **(env or {}), PYTHONPATH=str(checkout.path),
                       PYTHONDONTWRITEBYTECODE="1")
        environ.pop("PYTHONSAFEPATH", None)
        script = Path(__file__).with_name("worker.py")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen([*prefix, python, "-P", str(script)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=environ, text=True,
                                     cwd=checkout.path)
        self.info: dict = {}

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no message"

    def request(self, op: str, timeout: float = REQUEST_TIMEOUT, **args: object) -> dict:
        """Send one request and return its answer; ``AbError`` if the side fails or dies."""
        self.send(op, **args)
        return self.receive(op, timeout)

    def send(self, op: str, **args: object) -> None:
        """Send one request (its answer: :meth:`receive`)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the side died: reported by receive from its exit status

    def receive(self, op: str, timeout: float = REQUEST_TIMEOUT) -> dict:
        """The answer to the request ``op`` sent last; ``AbError`` if the side fails or dies."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not ready:
            self.close()
            raise AbError(f"{self.label} did not answer {op!r} within {timeout:.0f}s")
        if not line:
            status = self.proc.wait()
            raise AbError(f"{self.label}'s process died (exit status {status}) during {op!r}: "
                          f"{self._stderr_tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise AbError(f"{self.label} failed at {op!r}: {answer['error']}")
        return answer

    def start(self, **hello: object) -> dict:
        """Say hello; check that the side really imports its own checkout's ``wordcount``."""
        try:
            self.info = self.request("hello", timeout=120, **hello)
        except AbError as exc:
            if "ModuleNotFoundError" not in str(exc):
                raise
            raise AbError(f"{exc} (each side's interpreter needs numpy, the package's "
                          f"dependency: PYTHON_{self.label}=.venv-NAME/bin/python after make "
                          "install PYTHON=NAME)") from None
        expected = self.checkout.path / "wordcount"
        if Path(self.info["wordcount"]).resolve() != expected.resolve():
            raise AbError(f"{self.label} imported wordcount from {self.info['wordcount']}, "
                          f"not from {expected}")
        return self.info

    def close(self) -> None:
        """Close the pipe and reap the process (terminate, then kill, if it lingers).

        The pipe is closed whether or not the side still runs: a request it never read stays
        in the pipe's buffer, and a pipe left to the garbage collector flushes it at exit and
        prints "Exception ignored ... BrokenPipeError" (3.14) under the command's one line."""
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._stderr.close()
