"""``lane init DIR``: a new project that checks, analyses, runs and passes its own tests out of the
box, and whose README's commands all work (compiler/init_project.py)."""

from __future__ import annotations

from pathlib import Path

from test_docs import check_page
from typer.testing import CliRunner

from compiler.cli import app

FILES = ["README.md", "block.jsonl", "contracts/counter.lane", "pytest.ini", "tests/test_counter.py", "world.toml"]


def lane(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "100", "NO_COLOR": "1"})


def test_init_writes_a_project_and_says_what_to_do_next(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = lane("init", "hello")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "created hello: a contract, a world, a block and tests",
        "  hello/contracts/counter.lane  the Counter contract",
        "  hello/world.toml              deploys it",
        "  hello/block.jsonl             a block of three transactions",
        "  hello/tests/test_counter.py   its tests, with Lane's Python API",
        "  hello/pytest.ini              so that pytest finds them",
        "  hello/README.md               what to run next",
        "next: cd hello, then follow its README.md (lane check, lane analyze, lane run, pytest)",
    ]
    assert sorted(p.relative_to(tmp_path / "hello").as_posix()
                  for p in (tmp_path / "hello").rglob("*") if p.is_file()) == FILES
    assert (tmp_path / "hello" / "README.md").read_text().startswith("# hello: a Lane project\n")


def test_the_project_checks_clean_and_its_readme_commands_and_tests_pass(tmp_path, monkeypatch):
    """Every command of the project's README, run as tests/test_docs.py runs the pages': lane check,
    analyze, run, call and state show, then pytest, which runs the project's tests."""
    monkeypatch.chdir(tmp_path)
    assert lane("init", "hello").exit_code == 0
    check = lane("check", "hello/contracts/counter.lane")
    assert (check.exit_code, check.stderr) == (0, "checked 1 file: no problems\n")
    page = tmp_path / "hello" / "README.md"
    assert check_page(page, "hello/README.md", tmp_path / "hello", examples=False) == []


def test_init_refuses_a_folder_that_is_not_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = lane("init", "taken")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == ("error: taken is not empty: lane init writes a new project into a new or empty "
                             "folder\n")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("")
    assert lane("init", "file").stderr == "error: file exists and is not a folder\n"
    (tmp_path / "empty").mkdir()
    assert lane("init", "empty").exit_code == 0
    assert Path(tmp_path / "empty" / "world.toml").is_file()
