"""Lane in a real editor: headless Neovim (0.7 or later) with its built-in LSP client on ``lane lsp``.

A Lua script starts the client with ``vim.lsp.start_client`` and
``vim.lsp.buf_attach_client`` (both in Neovim 0.7; ``vim.lsp.start`` is not),
opens a copy of an example with an error, waits with ``vim.wait`` for the
diagnostics, asks for a hover, and writes what it got as JSON.

Skipped when ``nvim`` is missing, except in CI (``CI=true``), whose script
installs it: there a missing editor is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from compiler.pipeline import CompilerData
from conftest import REPO

NVIM = shutil.which("nvim")

SCRIPT = """
local file, out = os.getenv("LANE_NVIM_FILE"), os.getenv("LANE_NVIM_OUT")
local client_id = vim.lsp.start_client({
  name = "lane",
  cmd = { os.getenv("LANE_NVIM_PYTHON"), "-m", "compiler", "lsp" },
  root_dir = vim.fn.fnamemodify(file, ":h"),
})
vim.cmd("edit " .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, client_id)
local arrived = vim.wait(60000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
local diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(diagnostics, { lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
                              severity = d.severity, message = d.message, source = d.source })
end
-- A hover on the storage variable `balances` (cursor: 1-based line, 0-based column).
vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv("LANE_NVIM_HOVER_LINE")), 12 })
local replies = vim.lsp.buf_request_sync(buf, "textDocument/hover", vim.lsp.util.make_position_params(), 60000)
local hover = vim.NIL
for _, reply in pairs(replies or {}) do
  if reply.result then hover = reply.result.contents.value end
end
vim.fn.writefile({ vim.fn.json_encode({ arrived = arrived, diagnostics = diagnostics, hover = hover }) }, out)
vim.cmd("qa!")
"""


@pytest.fixture
def nvim() -> str:
    if NVIM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nvim is missing, but CI installs it (.ci/run): the editor test must run there")
        pytest.skip("nvim is not installed (apt-get install neovim)")
    return NVIM


def test_neovim_shows_the_diagnostics_of_lane_check(nvim, tmp_path):
    text = (REPO / "examples" / "token.lane").read_text()
    broken = text.replace("emit Transfer(msg.sender, to, amount);\n        return true;",
                          "emit Transfer(msg.sender, to, amount);\n        return 1;", 1)
    assert broken != text
    path = tmp_path / "token.lane"
    path.write_text(broken)
    (tmp_path / "check.lua").write_text(SCRIPT)
    out = tmp_path / "out.json"
    env = dict(os.environ, LANE_NVIM_FILE=str(path), LANE_NVIM_OUT=str(out), LANE_NVIM_PYTHON=sys.executable,
               LANE_NVIM_HOVER_LINE=str(text[: text.index("balances:")].count("\n") + 1))
    proc = subprocess.run([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-S", str(tmp_path / "check.lua")],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["arrived"], "no diagnostics reached Neovim"

    (expected,) = CompilerData(path).diagnostics()  # what `lane check` says: one error
    loc = expected.location
    (shown,) = result["diagnostics"]
    assert shown["message"] == expected.message == "expected bool, found u256: function 'transfer' returns bool"
    assert (shown["lnum"], shown["col"], shown["end_lnum"], shown["end_col"]) == \
        (loc.line - 1, loc.column - 1, loc.end_line - 1, loc.end_column - 1)  # an ASCII line: bytes are characters
    assert (shown["severity"], shown["source"]) == (1, "lane")  # vim.diagnostic.severity.ERROR
    assert "storage balances: map<address, u256>" in result["hover"]
