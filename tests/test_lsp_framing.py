"""``lane lsp`` against a client that misbehaves: raw bytes over stdio to the real server process.

Malformed frames, absurd lengths and random bytes are skipped and the next
well-formed request is answered; requests that are not valid get the JSON-RPC
error the specification names; the server exits when stdin closes or on
``exit``, and takes its worker processes with it; a slow check neither blocks
other documents nor outlives a newer text.  Every wait is for a message from
the server, bounded by a timeout; none is a sleep.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from compiler.lsp.framing import MAX_MESSAGE_BYTES
from lsp_helpers import TIMEOUT, RawServer

NOT_OPEN = -32602


@pytest.fixture(scope="module")
def server():
    raw = RawServer()
    raw.initialize()
    yield raw
    assert raw.proc.poll() is None, "the server died"
    assert raw.noise == []  # all it wrote were well-formed messages
    raw.close()


def hover_params(doc: str, line: int = 0, character: int = 0) -> dict:
    return {"textDocument": {"uri": doc}, "position": {"line": line, "character": character}}


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


GARBAGE = {
    "length not a number": b"Content-Length: abc\r\n\r\n{}",
    "negative length": b"Content-Length: -5\r\n\r\n{}",
    "absurd length": b"Content-Length: 99999999999\r\n\r\n",
    "just above the limit": b"Content-Length: %d\r\n\r\n{}" % (MAX_MESSAGE_BYTES + 1),
    "random bytes": random.Random(7).randbytes(5000),
    "NUL bytes": b"\0" * 10_000,
    "length longer than the body": b"Content-Length: 100\r\n\r\n{}",
    "length shorter than the body": b'Content-Length: 3\r\n\r\n{"jsonrpc": "2.0", "method": "x"}',
    "no Content-Length": b"Content-Type: application/vscode-jsonrpc\r\n\r\n{}",
    "two Content-Lengths": b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "header line without a colon": b"Content-Length 2\r\n\r\n{}",
    "header without its blank line": b"Content-Length: 2\r\n",
    "header cut short": b"Content-Len",
    "a megabyte without a line break": b"x" * (1 << 20),
    "a header swallowing the next one": b"Content-Length: 5\r\nX-Trace: ",
}


@pytest.mark.parametrize("garbage", list(GARBAGE.values()), ids=list(GARBAGE))
def test_the_request_after_a_malformed_frame_is_answered(server, garbage):
    answer = server.request("textDocument/hover", hover_params("file:///nowhere.lane"), prefix=garbage)
    assert answer["error"]["code"] == NOT_OPEN
    assert server.proc.poll() is None


def test_an_absurd_length_is_refused_without_allocating_it(server):
    # The server's peak memory stays far below what 99,999,999,999 bytes would take.
    server.request("textDocument/hover", hover_params("file:///nowhere.lane"),
                   prefix=b"Content-Length: 99999999999\r\n\r\n" + b"{" * 100_000)
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    peak_kib = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
    assert peak_kib < 500 * 1024


BAD_BODIES = {
    # body -> (the id of the answer, its code)
    b"{not json": (None, -32700),
    '{"jsonrpc": "2.0", "id": 1, "method": "x"}'.encode("utf-16"): (None, -32700),  # JSON, but not in UTF-8
    b"[" * 100_000: (None, -32700),  # nested deeper than any parser goes
    b"[1, 2]": (None, -32600),  # a batch: not in LSP
    b"42": (None, -32600),
    b'{"jsonrpc": "2.0", "id": 5}': (5, -32600),  # neither a request nor a response
    b'{"jsonrpc": "1.0", "id": 6, "method": "shutdown"}': (6, -32600),
    b'{"jsonrpc": "2.0", "id": 7, "method": 12}': (7, -32600),
    b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}': (None, -32600),
    b'{"jsonrpc": "2.0", "id": true, "method": "shutdown"}': (None, -32600),
    b'{"jsonrpc": "2.0", "id": 8, "method": "textDocument/hover", "params": 5}': (8, -32602),
    b'{"jsonrpc": "2.0", "id": 9, "method": "lane/noSuchMethod"}': (9, -32601),
}


@pytest.mark.parametrize("body", list(BAD_BODIES), ids=[repr(b[:30]) for b in BAD_BODIES])
def test_a_body_that_is_not_a_request_gets_the_json_rpc_error(server, body):
    msg_id, code = BAD_BODIES[body]
    server.seen.clear()  # the answers to earlier garbage (ParseErrors, id null) all came before the last answer
    server.send(frame(body))
    answer = server.wait(lambda m: "error" in m and m["id"] == msg_id)
    assert answer["error"]["code"] == code
    assert answer["jsonrpc"] == "2.0"
    # And the server goes on.
    assert server.request("textDocument/hover", hover_params("file:///nowhere.lane"))["error"]["code"] == NOT_OPEN


INVALID_PARAMS = {
    "hover without a position": ("textDocument/hover", {"textDocument": {"uri": "file:///a.lane"}},
                                 "required field missing @ $.params.position"),
    "hover with a line that is a string": (
        "textDocument/hover", {"textDocument": {"uri": "file:///a.lane"}, "position": {"line": "a", "character": 0}},
        "invalid value for type, expected int @ $.params.position.line"),
    "hover with a negative line": (
        "textDocument/hover", {"textDocument": {"uri": "file:///a.lane"}, "position": {"line": -1, "character": 0}},
        "invalid value @ $.params.position"),
    "definition with params as a list": ("textDocument/definition", [1, 2],
                                         "expected TextDocumentIdentifier @ $.params.textDocument"),
    "definition on a document that is not open": (
        "textDocument/definition", hover_params("file:///never/opened.lane"),
        "file:///never/opened.lane is not open (textDocument/didOpen it first)"),
    "outline of a document that is not open": (
        "textDocument/documentSymbol", {"textDocument": {"uri": "file:///never/opened.lane"}},
        "file:///never/opened.lane is not open"),
    "hover without params": ("textDocument/hover", None, "required field missing @ $.params"),
}


@pytest.mark.parametrize("method, params, says", list(INVALID_PARAMS.values()), ids=list(INVALID_PARAMS))
def test_invalid_params_get_invalid_params(server, method, params, says):
    answer = server.request(method, params)
    assert answer["error"]["code"] == -32602
    assert says in answer["error"]["message"]


def test_a_bad_notification_is_logged_and_the_server_goes_on(server):
    server.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///x.lane"}})
    logged = server.wait(lambda m: m.get("method") == "window/logMessage" and "didOpen" in m["params"]["message"])
    assert logged["params"]["type"] == 2  # a warning, not a bug of ours
    assert logged["params"]["message"] == ("lane lsp: ignored textDocument/didOpen: invalid params: "
                                           "required field missing @ $.params.textDocument.languageId; "
                                           "required field missing @ $.params.textDocument.version; "
                                           "required field missing @ $.params.textDocument.text")
    assert server.request("textDocument/hover", hover_params("file:///x.lane"))["error"]["code"] == NOT_OPEN


# ------------------------------------------------------------------ ending

def test_closing_stdin_ends_the_server_and_its_workers(tmp_path):
    raw = RawServer()
    try:
        raw.initialize()
        doc = raw.open(tmp_path / "a.lane", "contract A {}\n")
        raw.published(doc)  # a check ran: a worker process exists
        family = raw.descendants()
        assert family
        raw.send(b"Content-Length: 40\r\n\r\n{")  # and the editor dies in the middle of a message
        raw.proc.stdin.close()
        assert raw.proc.wait(10) == 1  # without shutdown: status 1
        # Its workers die with it; the fork server and resource tracker of multiprocessing follow on
        # their own as soon as they see the server gone.
        assert _all_gone(family)
    finally:
        raw.close()


@pytest.mark.parametrize("shutdown, status", [(True, 0), (False, 1)])
def test_exit_ends_the_server(shutdown, status):
    raw = RawServer()
    try:
        raw.initialize()
        if shutdown:
            assert raw.request("shutdown")["result"] is None
            after = raw.request("textDocument/hover", hover_params("file:///a.lane"))
            assert after["error"] == {"code": -32600, "message": "Invalid Request: textDocument/hover after shutdown"}
        raw.notify("exit")
        assert raw.proc.wait(10) == status  # stdin is still open
    finally:
        raw.close()


def test_shutdown_and_exit_with_params_null_end_the_server():
    # Some clients send `"params": null` where a method takes none: as if they were left out.
    raw = RawServer()
    try:
        raw.initialize()
        raw.send(raw.message({"id": 900, "method": "shutdown", "params": None}))
        assert raw.wait(lambda m: m.get("id") == 900) == {"jsonrpc": "2.0", "id": 900, "result": None}
        raw.send(raw.message({"method": "exit", "params": None}))
        assert raw.proc.wait(10) == 0  # stdin is still open
    finally:
        raw.close()


def _all_gone(pids: list[int], within: float = 10.0) -> bool:
    """Whether every process of ``pids`` has ended, or does within ``within`` seconds (there is no message
    to wait for: a process's end is looked at in /proc, every 10 ms)."""
    deadline = time.monotonic() + within
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (the state first), or None: gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


# ------------------------------------------------------------------ slow checks

def slow_contract(functions: int = 40_000) -> str:
    """A contract far too large to check within a second (about 3 MB): a genuinely slow check."""
    body = "".join(f"    pub fn f{i}(x: u256) -> u256 {{ s[x] += {i}; return s[x + {i}] * 2; }}\n"
                   for i in range(functions))
    return "contract Slow {\n    storage s: map<u256, u256>;\n" + body + "}\n"


SMALL = "contract Small {\n    storage total: u256;\n    pub fn add(x: u256) { total += x; }\n}\n"


def test_a_slow_check_does_not_hold_up_another_document(tmp_path):
    raw = RawServer("--check-timeout", "120")
    try:
        raw.initialize()
        slow = raw.open(tmp_path / "slow.lane", slow_contract())
        small = raw.open(tmp_path / "small.lane", SMALL)
        answer = raw.request("textDocument/hover", hover_params(small, 1, 14))
        assert "storage total: u256" in answer["result"]["contents"]["value"]
        assert "- added to by: `Small.add`" in answer["result"]["contents"]["value"]
        raw.published(small)
        outline = raw.request("textDocument/documentSymbol", {"textDocument": {"uri": small}})["result"]
        assert [s["name"] for s in outline] == ["Small", "total", "add"]  # flat: the client offered no tree
        # All that while the slow one was still being checked.
        assert not [m for m in raw.seen if m.get("method") == "textDocument/publishDiagnostics"
                    and m["params"]["uri"] == slow]
    finally:
        raw.close()


def test_a_check_past_the_time_limit_publishes_one_diagnostic_and_the_server_goes_on(tmp_path):
    raw = RawServer("--check-timeout", "1")
    try:
        raw.initialize()
        slow = raw.open(tmp_path / "slow.lane", slow_contract())
        got = raw.published(slow, version=1)
        (diag,) = got["diagnostics"]
        assert (diag["code"], diag["severity"], diag["source"]) == ("timeout", 2, "lane")
        assert diag["message"] == (
            "checking this file took longer than the time limit (1 s): it was stopped, so its diagnostics are "
            f"not shown\nhint: `lane check {tmp_path / 'slow.lane'}` checks it without a time limit")
        # Requests on it are answered (there is nothing to show), and other documents are checked.
        assert raw.request("textDocument/hover", hover_params(slow, 5, 14))["result"] is None
        small = raw.open(tmp_path / "small.lane", SMALL)
        assert raw.published(small)["diagnostics"] == []
    finally:
        raw.close()


def test_a_newer_text_cancels_the_check_of_the_older_one(tmp_path):
    raw = RawServer("--check-timeout", "120")
    try:
        raw.initialize()
        doc = raw.open(tmp_path / "doc.lane", slow_contract(), version=1)
        checking = _workers_once_started(raw)
        raw.change(doc, SMALL, version=2)
        got = raw.published(doc)
        assert (got["version"], got["diagnostics"]) == (2, [])  # the first one published is the newer text's
        # The worker checking the older text was killed (its check runs for minutes): gone at once, or
        # as soon as the kernel has torn it down (the server waits half a second for that; a loaded
        # machine has taken longer than five seconds, twice in CI: thirty still tell a kill from a
        # check of minutes).
        assert _all_gone(checking, within=30)
    finally:
        raw.close()


def test_workers_do_not_outlive_a_server_killed_outright(tmp_path):
    raw = RawServer("--check-timeout", "120")
    try:
        raw.initialize()
        raw.open(tmp_path / "slow.lane", slow_contract())
        checking = _workers_once_started(raw)
        raw.proc.kill()  # SIGKILL: the server cannot kill them itself
        raw.proc.wait(10)
        assert _all_gone(checking)
    finally:
        raw.close()


BUSY_CPU_S = 0.5  # a worker's CPU time that says it is checking: an idle one (its imports are the fork
                  # server's) has none to speak of, the check of ``slow_contract`` burns it for minutes


def _workers_once_started(raw: RawServer) -> list[int]:
    """The server's worker processes (its grandchildren, under the fork server) that are checking,
    once one is.  A worker that has started is not enough: the pool starts one ahead of the first
    job, and a test that changed the text before the job reached it (the document's first check
    waits for typing to pause) would find that worker still there, idle, rightly so."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        children = set(raw.descendants())
        direct = {pid for pid in children if _parent(pid) == raw.proc.pid}
        busy = [pid for pid in children if _parent(pid) in direct and _cpu_seconds(pid) >= BUSY_CPU_S]
        if busy:
            return busy
        # Nothing to wait for in the protocol: the check starts without a message.  A round trip
        # (answered at once) gives the server's loop a turn before looking again.
        raw.request("textDocument/hover", hover_params("file:///nowhere.lane"))
    raise AssertionError("no worker process started checking")


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user and system), from /proc; 0 if it has gone."""
    stat = _stat(pid)
    return 0.0 if stat is None else (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def _parent(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else int(stat[1])


def test_json_rpc_errors_are_well_formed_json(server):
    # The ParseError of a body that is not JSON is itself valid JSON-RPC: id null, code and message.
    server.seen.clear()
    server.send(frame(b"\xff\xfe"))
    answer = server.wait(lambda m: "error" in m and m["id"] is None)
    assert set(answer) == {"jsonrpc", "id", "error"} and set(answer["error"]) == {"code", "message"}
    assert answer["error"]["message"].startswith("Parse error: the body is not UTF-8")
    json.dumps(answer)
