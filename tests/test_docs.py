"""Every command the documentation shows runs here, and what it prints is compared with the page.

As solc keeps its command-line tests, the pages keep theirs: a page cannot drift from
the program, because a command it shows that fails, or prints something else, fails
this test.  The pages are README.md, every page of docs/ and every README.md under
examples/, found when the tests are collected: a new page is covered without a line here.

The convention (docs/commands.md says it for the pages' authors):

- A ```console block is a terminal session.  A line starting with ``$ `` is a command;
  the lines after it, up to the next command or the end of the block, are what it prints,
  stdout and stderr together as a terminal shows them.  When they are compared:

  * ``...`` in a line stands for any text, and a line of only ``...`` for any number of
    lines (none included), as in doctest;
  * times (``0.0786 s``, ``6.8 ms``, ``3.4 us``, ``0.52s``), rates (``534 tx/s``) and
    64-digit hex digests (state and receipts roots) stand for any such value;
  * the page's temporary directory (below) is left out of paths; trailing spaces and
    trailing blank lines do not count.

  A command must exit with status 0, unless its output ends with a line
  ``[exit status N]``, which is then the status it must exit with.
- A ```sh block lists commands that must run and exit with status 0; what they print is
  not compared.  A ``#`` starts a comment.
- A command is ``lane ...`` (run in this process, through the CLI's Typer app, as
  the ``lane`` script would), ``cd DIR``, or ``pytest ...`` (run as ``python -m pytest``
  in a subprocess).  A word with ``*`` is expanded as a shell would.  Nothing else runs:
  a page that shows other commands puts them in another kind of block.
- Any other block (```bash for installing Lane or an editor extension, ```lane,
  ```toml, ```lua, or none) is not run.

Each page runs in a temporary directory of its own, holding a copy of the
repository's examples/ (so ``examples/demo/world.toml`` names the demo world), its
commands in page order: a command can use what an earlier one of the page made, a
state file or a new project.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compiler.cli import app

REPO = Path(__file__).resolve().parent.parent


def pages() -> list[Path]:
    found = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "examples").rglob("README.md"))]
    return [p for p in found if p.is_file()]


# ---------------------------------------------------------------------------- reading a page

@dataclass
class Command:
    page: str
    line: int                       # 1-based line of the command in the page
    text: str                       # the command as written, without "$ "
    expected: list[str] | None      # the output a console block shows; None in a sh block
    status: int = 0                 # the exit status it must end with


@dataclass
class Block:
    lang: str
    line: int                       # the line of its opening fence
    lines: list[str] = field(default_factory=list)


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
EXIT_LINE = re.compile(r"^\[exit status (\d+)\]$")


def fenced_blocks(text: str) -> list[Block]:
    """The page's fenced code blocks, with their language and where they start."""
    blocks: list[Block] = []
    current: Block | None = None
    fence = ""
    for no, line in enumerate(text.split("\n"), 1):
        if current is None:
            m = FENCE.match(line)
            if m:
                fence, current = m.group(2), Block(m.group(3).lower(), no)
        elif line.strip().startswith(fence[0] * len(fence)) and line.strip().strip(fence[0]) == "":
            blocks.append(current)
            current = None
        else:
            current.lines.append(line)
    return blocks


def commands(page: Path, name: str) -> list[Command]:
    """The commands of a page's ```console and ```sh blocks, in page order (``name``: the page's,
    in messages)."""
    out: list[Command] = []
    for block in fenced_blocks(page.read_text(encoding="utf-8")):
        if block.lang == "console":
            for k, line in enumerate(block.lines):
                if line.startswith("$ "):
                    out.append(Command(name, block.line + 1 + k, line[2:].strip(), []))
                elif out and out[-1].expected is not None and out[-1].line > block.line:
                    out[-1].expected.append(line)
                elif line.strip():
                    raise AssertionError(f"{name}:{block.line + 1 + k}: a console block starts with a "
                                         f"command ('$ lane ...'), not with output: {line!r}")
        elif block.lang == "sh":
            for k, line in enumerate(block.lines):
                if line.split("#", 1)[0].strip():
                    out.append(Command(name, block.line + 1 + k, line.strip(), None))
    for command in out:
        if command.expected is not None:
            while command.expected and not command.expected[-1].strip():
                command.expected.pop()
            if command.expected and (m := EXIT_LINE.match(command.expected[-1].strip())):
                command.status = int(m.group(1))
                command.expected.pop()
    return out


# ---------------------------------------------------------------------------- comparing output

TIME = re.compile(r"\b\d[\d,]*(?:\.\d+)? ?(?:s|ms|us|µs)\b")
RATE = re.compile(r"\b\d[\d,]*(?:\.\d+)? tx/s\b")
DIGEST = re.compile(r"\b(0x)?[0-9a-f]{64}\b")


def normalised(text: str, root: Path | None = None) -> list[str]:
    if root is not None:
        for form in {str(root), str(root.resolve())}:
            text = text.replace(form + os.sep, "").replace(form, ".")
    text = RATE.sub("<rate> tx/s", text)
    text = TIME.sub("<time>", text)
    text = DIGEST.sub(lambda m: (m.group(1) or "") + "<digest>", text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is what ``expected`` shows (both normalised), ``...`` matching anything."""
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return re.fullmatch("".join(parts), "".join(line + "\n" for line in actual)) is not None


# ---------------------------------------------------------------------------- running a page

@dataclass
class Outcome:
    status: int
    output: str


class PageRunner:
    """Runs a page's commands in order in one directory, as a reader would in a terminal."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root

    def run(self, text: str) -> Outcome:
        words = shlex.split(text, comments=True)
        if not words:
            return Outcome(0, "")
        program, args = words[0], self.expanded(words[1:])
        if program == "cd":
            target = (self.cwd / (args[0] if args else self.root)).resolve()
            if not target.is_dir():
                return Outcome(1, f"cd: {args[0]}: No such file or directory\n")
            self.cwd = target
            return Outcome(0, "")
        if program == "lane":
            return self.lane(args)
        if program == "pytest":
            proc = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=self.cwd, capture_output=True,
                                  text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
            return Outcome(proc.returncode, proc.stdout + proc.stderr)
        raise AssertionError(f"only lane, cd and pytest commands run in ```console and ```sh blocks, not "
                             f"{program!r}: show other commands in a ```bash block (docs/commands.md)")

    def expanded(self, args: list[str]) -> list[str]:
        out = []
        for arg in args:
            found = sorted(glob.glob(arg, root_dir=self.cwd)) if "*" in arg else []
            out.extend(found or [arg])
        return out

    def lane(self, args: list[str]) -> Outcome:
        previous = os.getcwd()
        os.chdir(self.cwd)
        try:
            result = CliRunner().invoke(app, args, env={"COLUMNS": "80", "NO_COLOR": "1", "LANE_DEBUG": None})
        finally:
            os.chdir(previous)
        return Outcome(result.exit_code, result.output)


def check_page(page: Path, name: str, root: Path, examples: bool = True) -> list[str]:
    """Run a page's commands in ``root`` (with a copy of examples/ in it, unless not ``examples``);
    the failures, each said in full."""
    if examples:
        shutil.copytree(REPO / "examples", root / "examples")
    runner = PageRunner(root)
    failures = []
    for command in commands(page, name):
        where = f"{command.page}:{command.line}: $ {command.text}"
        try:
            got = runner.run(command.text)
        except AssertionError as refused:  # a command the harness does not run
            failures.append(f"{where}\n  {refused}")
            continue
        if got.status != command.status:
            failures.append(f"{where}\n  exited with status {got.status}, not {command.status}; it printed:\n"
                            + _indented(got.output))
            continue
        if command.expected is None:
            continue
        expected, actual = normalised("\n".join(command.expected)), normalised(got.output, root)
        if not matches(expected, actual):
            diff = difflib.unified_diff(expected, actual, "the page shows", "the command printed", lineterm="")
            failures.append(f"{where}\n  printed something else than the page shows (normalised):\n"
                            + _indented("\n".join(diff)))
    return failures


def _indented(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").split("\n"))


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_command_of_the_page_runs_as_shown(page, tmp_path):
    name = page.relative_to(REPO).as_posix()
    failures = check_page(page, name, tmp_path)
    assert not failures, f"{len(failures)} command(s) of {name} fail:\n\n" + "\n".join(failures)


# ---------------------------------------------------------------------------- the harness itself

def test_a_console_block_gives_commands_with_their_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```console\n$ lane check a.lane   # a comment\nchecked 1 file\n\n"
                    "$ lane run w b\nerror: boom\n[exit status 1]\n```\n\n```sh\nlane call w c f  # why\n\n"
                    "# only a comment\n```\n\n```bash\npip install .\n```\n")
    got = [(c.line, c.text, c.expected, c.status) for c in commands(page, "page.md")]
    assert got == [(4, "lane check a.lane   # a comment", ["checked 1 file"], 0),
                   (7, "lane run w b", ["error: boom"], 1),
                   (13, "lane call w c f  # why", None, 0)]


@pytest.mark.parametrize("expected, actual, ok", [
    (["a", "...", "d"], ["a", "b", "c", "d"], True),
    (["a", "...", "b"], ["a", "b"], True),                     # "..." may stand for no line
    (["x ... z"], ["x yyy z"], True),
    (["x ... z"], ["x yyy"], False),
    (["a", "b"], ["a", "b", "c"], False),                      # every line counts
    (["a..."], ["a", "b"], False),                             # "..." in a line stays in the line
])
def test_ellipses_match_like_doctest(expected, actual, ok):
    assert matches(expected, actual) is ok


def test_times_rates_digests_and_the_directory_are_normalised(tmp_path):
    root = "0x" + "ab" * 32
    text = (f"executor sequential: 0.0786 s from the block file, 1,534 tx/s\n  decode 6.8 ms, 3.4 us\n"
            f"state root    {root}\nwrote {tmp_path}/work/block.jsonl   \n\n")
    assert normalised(text, tmp_path) == [
        "executor sequential: <time> from the block file, <rate> tx/s", "  decode <time>, <time>",
        "state root    0x<digest>", "wrote work/block.jsonl"]


def test_a_page_that_drifted_fails_with_the_difference(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```console\n$ lane --version\nlane 9.9.9\n```\n\n```console\n$ lane check nothing.lane\n```\n")
    (tmp_path / "run").mkdir()
    failures = check_page(page, "page.md", tmp_path / "run")
    assert len(failures) == 2
    assert failures[0].startswith("page.md:2: $ lane --version\n  printed something else than the page shows")
    assert "-lane 9.9.9\n" in failures[0] and "+lane 0.1.0\n" in failures[0]
    assert failures[1].startswith("page.md:7: $ lane check nothing.lane\n  exited with status 1, not 0")


def test_only_lane_cd_and_pytest_run(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh\nrm -rf /\n```\n")
    (tmp_path / "run").mkdir()
    assert check_page(page, "page.md", tmp_path / "run") == [
        "page.md:2: $ rm -rf /\n  only lane, cd and pytest commands run in ```console and ```sh blocks, not 'rm': "
        "show other commands in a ```bash block (docs/commands.md)"]
