"""README.md and docs/ name only what exists: every ``make`` target and variable, ``wcbench``
subcommand and ``--option`` in them is checked against the Makefile and the real parsers.

Commands are read from code: inline code spans and fenced blocks. A ``wcbench SUB`` command's
options must be ``SUB``'s; a ``pytest`` command's must be in ``pytest --help`` here (this
project's options, pytest-benchmark's and pytest's own); a ``wordcount`` command's the
``wordcount`` CLI's (a ``wcbench`` command's words after ``--`` are the command it measures);
a ``make`` command's targets and ``VAR=`` must be in the Makefile. An option
quoted alone (```--sizes```) must exist in one of those. Lines that run another program (``pip``,
``git``, ``memray``, ...) are not this project's to check.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from wcbench.cli import build_parser
from wordcount.cli import build_parser as wordcount_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

OPTION = re.compile(r"--[a-z][a-z0-9-]*")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
#: Other programs' options that the pages quote alone, and whose they are.
OTHER_PROGRAMS_OPTIONS = {"--disable-gil": "CPython's ./configure", "--prefer-binary": "pip",
                          "--follow-fork": "memray run"}
#: Where a command ends inside a line of shell.
SEPARATORS = {"|", "||", "&&", ";", ">", ">>", "2>&1", "&"}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings}


@cache
def wcbench_options() -> dict[str, set[str]]:
    """Subcommand -> its options (``""``: the top level's)."""
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": _options(parser), **{name: _options(p) for name, p in sub.choices.items()}}


@cache
def pytest_options() -> set[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return set(OPTION.findall(done.stdout))


@cache
def makefile() -> tuple[set[str], set[str]]:
    """The Makefile's targets and variables."""
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", text, re.M))
    variables = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", text))
    return targets, variables


def code(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every fenced-block line and every inline code span."""
    text = page.read_text()
    fenced = set()
    for block in FENCE.finditer(text):
        first = text.count("\n", 0, block.start(1)) + 1
        for i, line in enumerate(block.group(1).splitlines()):
            fenced.add(first + i)
            yield first + i, line
    for number, line in enumerate(text.splitlines(), 1):
        if number not in fenced:
            for span in SPAN.finditer(line):
                yield number, span.group(1)


def commands(snippet: str) -> Iterator[list[str]]:
    """The words of each command in a line of shell (comments and prompts dropped)."""
    snippet = snippet.split(" #")[0].strip().removeprefix("$ ")
    try:
        words = shlex.split(snippet, comments=True)
    except ValueError:
        words = snippet.split()
    current: list[str] = []
    for word in words:
        if word in SEPARATORS:
            if current:
                yield current
            current = []
        else:
            current.append(word)
    if current:
        yield current


def problems(page: Path) -> Iterator[str]:
    targets, variables = makefile()
    every_option = (set().union(*wcbench_options().values()) | pytest_options()
                    | _options(wordcount_parser()))
    for number, snippet in code(page):
        where = f"{page.parent.name}/{page.name}:{number}: `{snippet}`"
        for words in commands(snippet):
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # FOO=1 cmd ...
                words = words[1:]
            if not words:
                continue
            program = Path(words[0]).name
            args = words[1:]
            if program.startswith("python") and args[:2] in (["-m", "pytest"],
                                                            ["-m", "wcbench"],
                                                            ["-m", "wordcount"]):
                program, args = args[1], args[2:]
            if program == "wcbench":
                if "--" in args:  # what follows is the command wcbench measures
                    args = args[:args.index("--")]
                subs = [a for a in args if not a.startswith("-")][:1]
                sub = subs[0] if subs and subs[0] in wcbench_options() else ""
                placeholder = subs and (subs[0].isupper() or subs[0] in ("...", "COMMAND")
                                        or subs[0].startswith("<"))
                if subs and not sub and not placeholder:
                    yield f"{where}: no wcbench subcommand {subs[0]!r}"
                known = wcbench_options()[sub] | wcbench_options()[""]
                for opt in (a.split("=")[0] for a in args if a.startswith("--")):
                    if opt not in known:
                        yield f"{where}: wcbench {sub} has no option {opt}"
            elif program == "make":
                for arg in args:
                    if "=" in arg:
                        if arg.split("=")[0] not in variables:
                            yield f"{where}: the Makefile has no variable {arg.split('=')[0]}"
                    elif not arg.startswith("-") and arg not in targets:
                        yield f"{where}: the Makefile has no target {arg!r}"
            elif program in ("pytest", "wordcount"):
                known = pytest_options() if program == "pytest" else _options(wordcount_parser())
                for opt in (a.split("=")[0] for a in args if a.startswith("--")):
                    if opt not in known:
                        yield f"{where}: {program} has no option {opt}"
            elif program.startswith("--"):  # an option quoted alone
                for opt in OPTION.findall(snippet)[:1]:
                    if opt not in every_option and opt not in OTHER_PROGRAMS_OPTIONS:
                        yield f"{where}: no command here has an option {opt}"


def test_the_pages_exist() -> None:
    assert (ROOT / "README.md").exists()
    assert len(PAGES) > 5, "docs/ holds the manual"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_target_and_option_named_exists(page: Path) -> None:
    found = list(problems(page))
    assert not found, "\n".join(found)


def test_the_readme_is_a_front_door_and_every_page_is_reachable() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250, f"README.md is {len(readme.splitlines())} lines"
    index = ROOT / "docs" / "README.md"
    assert "docs/README.md" in readme or "docs/" in readme
    listed = readme + index.read_text()
    for page in PAGES[1:]:
        if page != index:
            assert f"{page.name}" in listed, f"neither README.md nor docs/README.md links {page}"


def test_the_checker_finds_what_does_not_exist(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("`make nope`, `wcbench compare --nope`, `wcbench frobnicate`, "
                    "`pytest bench --benchmark-nope`, `make bench SIZEZ=1MiB`, `--nope`\n"
                    "```\n.venv/bin/wcbench ab --base HEAD --new HEAD --budget 4\n```\n")
    found = list(problems(page))
    assert len(found) == 6, found
    for word in ("target 'nope'", "option --nope", "subcommand 'frobnicate'",
                 "--benchmark-nope", "variable SIZEZ", "an option --nope"):
        assert any(word in f for f in found), (word, found)


def _strategy_rows(text: str) -> dict[str, list[str]]:
    """The rows of a Markdown table whose first cell names a strategy (``kernel · executor``)."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and " · " in cells[0]:
            rows[cells[0].replace(" (made per call)", "")] = cells[1:]
    return rows


def test_the_readmes_table_of_pythons_is_the_committed_page() -> None:
    """Every row of the README's table across Pythons, cell for cell, as results/pythons.md
    (made by ``wcbench report --across``) has it."""
    page = _strategy_rows((ROOT / "results" / "pythons.md").read_text())
    readme = _strategy_rows((ROOT / "README.md").read_text())
    assert len(readme) >= 8
    for strategy, cells in readme.items():
        assert page.get(strategy) == cells, strategy
