"""Where Lane finds its examples and the demo world (compiler/resources.py): LANE_EXAMPLES, then
inside the package (an install), then beside it (a checkout); never the current directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler import resources
from compiler.diagnostics import LaneError

REPO = Path(__file__).resolve().parent.parent


def test_a_checkout_finds_the_repository_examples(monkeypatch):
    monkeypatch.delenv("LANE_EXAMPLES", raising=False)
    assert resources.examples_dir(["token.lane", "demo/world.toml"]) == REPO / "examples"


def test_lane_examples_names_another_folder(tmp_path, monkeypatch):
    shutil.copytree(REPO / "examples", tmp_path / "mine")
    monkeypatch.setenv("LANE_EXAMPLES", str(tmp_path / "mine"))
    assert resources.examples_dir(["token.lane"]) == tmp_path / "mine"


def test_the_current_directory_is_not_searched(tmp_path, monkeypatch):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "token.lane").write_text("not Lane's")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LANE_EXAMPLES", raising=False)
    assert resources.examples_dir(["token.lane"]) == REPO / "examples"


def test_a_missing_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("LANE_EXAMPLES", str(tmp_path))
    with pytest.raises(LaneError) as err:
        resources.examples_dir(["nowhere.lane"])
    looked = ", ".join(str(p) for p in [tmp_path, resources.PACKAGE / "examples", REPO / "examples"])
    assert str(err.value) == (f"cannot find Lane's examples folder (with nowhere.lane): looked in {looked}; "
                              "reinstall Lane, or set LANE_EXAMPLES to a copy of the repository's examples/")
