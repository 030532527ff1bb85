"""Fuzzing the framing of ``lane lsp``: whatever bytes come first, the next well-formed request is served.

Hypothesis generates byte streams of three kinds: random bytes, well-formed
messages mutated (bytes flipped, cut, repeated, a ``Content-Length`` changed,
pieces of headers inserted), and header sections put together from good and
bad pieces.  In process, each stream goes to the :class:`Framer` that the
server reads stdin with, cut into chunks at random places, optionally with a
pause (the stream going quiet), and then a well-formed request: the framer
must never raise and must give that request back last.  End to end, fewer
streams go to one real server process, each followed by a request that must
be answered.

    LANE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests/test_fuzz_lsp_framing.py
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.lsp.framing import Framer, Message, Skipped, Unparsable, frame
from fuzzing import fuzz_settings
from lsp_helpers import RawServer

DOC = "file:///fuzz/token.lane"
VALID = [frame(json.dumps(message).encode()) for message in [
    {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": DOC, "languageId": "lane", "version": 1, "text": "contract T {\n    storage s: u256;\n}\n"}}},
    {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": DOC, "version": 2}, "contentChanges": [{"text": "contract T {}\n"}]}},
    {"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": DOC}, "position": {"line": 1, "character": 14}}},
    {"jsonrpc": "2.0", "id": "two", "method": "textDocument/documentSymbol", "params": {"textDocument": {"uri": DOC}}},
    {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}},
    {"jsonrpc": "2.0", "id": 3, "result": None},
    {"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": DOC}}},
]]
PROBE = {"jsonrpc": "2.0", "id": "probe", "method": "textDocument/hover",
         "params": {"textDocument": {"uri": "file:///nowhere.lane"}, "position": {"line": 0, "character": 0}}}
PIECES = [b"Content-Length", b"content-length", b"Content-Type", b":", b": ", b" ", b"\t", b"\r\n", b"\n", b"\r",
          b"\r\n\r\n", b"0", b"2", b"17", b"-1", b"abc", b"99999999999", b"67108865", b"{", b"}", b"[", b"\"",
          b"\x00", b"\xff", b"\xc3", "é".encode(), b"Content-Length: 2\r\n\r\n{}"]


@st.composite
def mutated(draw) -> bytes:
    """Well-formed messages, then a few mutations of their bytes."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=4))))
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(data)))
        j = draw(st.integers(i, min(len(data), i + 64)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "repeat", "length"]))
        if kind == "flip" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[i:j]
        elif kind == "insert":
            data[i:i] = draw(st.one_of(st.sampled_from(PIECES), st.binary(max_size=16)))
        elif kind == "repeat":
            data[j:j] = data[i:j]
        else:  # another number where a Content-Length's stands
            at = data.find(b"Content-Length: ", i)
            if at >= 0:
                end = data.find(b"\r", at)
                data[at + 16:end] = str(draw(st.integers(-5, 10**12))).encode()
    return bytes(data)


@st.composite
def headers(draw) -> bytes:
    """Header sections from good and bad pieces, each with or without a body after it."""
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(st.lists(st.tuples(
            st.sampled_from([b"Content-Length", b"content-length", b"Content-Type", b"X-Trace", b"", b"Bad Name"]),
            st.sampled_from([b": ", b":", b" : ", b""]),
            st.one_of(st.sampled_from([b"2", b"0", b"-3", b"abc", b"99999999999", b"18446744073709551616", b""]),
                      st.integers(0, 200).map(lambda n: str(n).encode())),
            st.sampled_from([b"\r\n", b"\n", b"\r", b""])), max_size=4))
        out += b"".join(b"".join(line) for line in lines)
        out += draw(st.sampled_from([b"\r\n", b"\n", b""]))
        out += draw(st.one_of(st.just(b""), st.just(b"{}"), st.sampled_from(VALID), st.binary(max_size=40)))
    return out


STREAMS = st.one_of(st.binary(max_size=2000), mutated(), headers())


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


@fuzz_settings(500)
@given(stream=STREAMS, cuts=st.lists(st.integers(0, 4000), max_size=6), pause=st.booleans())
def test_after_any_stream_the_framer_finds_the_next_message(stream, cuts, pause):
    framer = Framer()
    events = []
    for piece in split(stream, cuts):
        events += framer.feed(piece)
    if pause:
        events += framer.stall()
    tail = framer.feed(frame(json.dumps(PROBE).encode())) + framer.stall()
    assert all(isinstance(e, (Message, Unparsable, Skipped)) for e in events + tail)
    messages = [e.value for e in tail if isinstance(e, Message)]
    assert messages and messages[-1] == PROBE
    assert not framer.pending


@pytest.fixture(scope="module")
def server():
    raw = RawServer()
    raw.initialize()
    yield raw
    assert raw.proc.poll() is None, "the server died"
    raw.close()


PROBES = itertools.count()


@fuzz_settings(12)
@given(stream=STREAMS)
def test_after_any_stream_the_server_answers_the_next_request(server, stream):
    msg_id = f"probe-{next(PROBES)}"  # a string: no fuzzed request shares it
    _, data = server.request_bytes(PROBE["method"], PROBE["params"], msg_id=msg_id)
    server.send(stream + data)
    answer = server.wait(lambda m: m.get("id") == msg_id and "method" not in m)
    assert answer["error"]["code"] == -32602  # the probe's document is not open
    server.seen.clear()  # what the stream itself was answered is not the question
