"""``lane check`` as a user runs it: a subprocess, its exit status, stdout and stderr (SPEC §5)."""

from __future__ import annotations

import json

from compiler import __version__

from conftest import run_lane

BAD = """\
contract C {
    fn f() {
        let x: u256 = true;
    }
}
"""


def test_bad_file_exits_1_with_location_source_line_and_caret(tmp_path):
    path = tmp_path / "bad.lane"
    path.write_text(BAD)
    proc = run_lane("check", str(path))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    head = f"{path}:3:23: error: expected u256, found bool: 'x' is u256"
    assert lines[0] == head
    assert lines[1] == "3 |         let x: u256 = true;"
    assert lines[2] == "  |                       ^^^^"
    assert lines[-1] == "checked 1 file: 1 error"
    assert "Traceback" not in proc.stderr


def test_syntax_error_is_rendered_the_same_way(tmp_path):
    path = tmp_path / "syntax.lane"
    path.write_text("contract C {\n    fn f() {\n        let x = 1\n    }\n}\n")
    proc = run_lane("check", str(path))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{path}:3:18: error: expected ';' or an operator, found '}}'"
    assert lines[1:3] == ["3 |         let x = 1", "  |                  ^"]


def test_relative_path_is_shown_as_given(tmp_path):
    (tmp_path / "rel.lane").write_text(BAD)
    proc = run_lane("check", "rel.lane", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("rel.lane:3:23: error: ")


def test_hint_and_note_are_printed(tmp_path):
    path = tmp_path / "dup.lane"
    path.write_text("contract C {\n    storage x: u256;\n    storage x: address;\n    fn f(a: address) -> u256 { return a; }\n}\n")
    proc = run_lane("check", str(path))
    assert proc.returncode == 1
    assert f"  = note: first declared here ({path}:2:13)" in proc.stderr
    assert "  = hint: convert it with u256(...)" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "checked 1 file: 2 errors"


def test_good_file_exits_0(tmp_path):
    path = tmp_path / "good.lane"
    path.write_text("contract C { pub view fn f() -> u256 { return 1; } }\n")
    proc = run_lane("check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == "checked 1 file: no problems"


def test_warnings_alone_exit_0(tmp_path):
    path = tmp_path / "warn.lane"
    path.write_text("contract C {\n    storage x: u256;\n    fn f(x: u256) {}\n}\n")
    proc = run_lane("check", str(path))
    assert proc.returncode == 0
    assert f"{path}:3:10: warning: parameter 'x' shadows the storage variable 'x'" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "checked 1 file: 1 warning"


def test_json_output(tmp_path):
    path = tmp_path / "bad.lane"
    path.write_text(BAD)
    proc = run_lane("check", "--json", str(path))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert report["errors"] == 1 and report["warnings"] == 0
    assert report["files"] == [str(path)]
    (diag,) = report["diagnostics"]
    assert diag["severity"] == "error"
    assert diag["code"] == "type-mismatch"
    assert diag["message"] == "expected u256, found bool: 'x' is u256"
    assert diag["location"] == {"file": str(path), "line": 3, "column": 23, "end_line": 3, "end_column": 27}
    assert diag["notes"] == [] and diag["hint"] is None
    assert "Traceback" not in proc.stderr


def test_json_output_for_a_good_file(tmp_path):
    path = tmp_path / "good.lane"
    path.write_text("contract C {}\n")
    proc = run_lane("check", str(path), "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"files": [str(path)], "diagnostics": [], "errors": 0, "warnings": 0}


def test_several_files_and_an_import_error_once(tmp_path):
    (tmp_path / "lib.lane").write_text("contract Lib { fn f() -> u256 { return false; } }\n")
    (tmp_path / "a.lane").write_text('import "lib.lane";\ncontract A {}\n')
    (tmp_path / "b.lane").write_text('import "lib.lane";\ncontract B {}\n')
    proc = run_lane("check", "--json", str(tmp_path / "a.lane"), str(tmp_path / "b.lane"))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    # The error in the file both import is reported once.
    assert [(d["location"]["file"], d["location"]["line"], d["location"]["column"]) for d in report["diagnostics"]] \
        == [(str(tmp_path / "lib.lane"), 1, 40)]


def test_nonexistent_file(tmp_path):
    missing = tmp_path / "missing.lane"
    proc = run_lane("check", str(missing))
    assert proc.returncode == 1
    assert f"error: cannot read '{missing}': no such file" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.lane"
    path.write_bytes("contract Caf\xe9 {}\n".encode("latin-1"))
    proc = run_lane("check", str(path))
    assert proc.returncode == 1
    assert f"error: cannot read '{path}': not valid UTF-8 text" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_directory_instead_of_a_file(tmp_path):
    proc = run_lane("check", str(tmp_path))
    assert proc.returncode == 1
    assert f"error: cannot read '{tmp_path}'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_without_files_is_a_usage_error():
    proc = run_lane("check")
    assert proc.returncode == 1  # (the specification's exit statuses: 0, or 1 for any mistake of the user's)
    assert "Missing argument" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_version():
    proc = run_lane("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"lane {__version__}"


def test_source_line_is_the_lexers_line_despite_form_feeds_and_crlf(tmp_path):
    # A form feed or U+2028 inside a comment is not a line break for the lexer; neither may it
    # be one for the rendered source line. CRLF line ends do not show up in the output.
    path = tmp_path / "ff.lane"
    path.write_bytes("/* page\x0cbreak \u2028 */ contract C {\r\n    fn f() { let x: u256 = false; }\r\n}\r\n"
                     .encode("utf-8"))
    proc = run_lane("check", str(path), raw=True)
    assert proc.returncode == 1
    lines = proc.stderr.decode("utf-8").split("\n")
    assert lines[0] == f"{path}:2:28: error: expected u256, found bool: 'x' is u256"
    assert lines[1] == "2 |     fn f() { let x: u256 = false; }"
    assert lines[2] == "  |                            ^^^^^"
