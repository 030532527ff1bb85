"""The messages between the parallel executor and its workers: their bytes, and the pipes' framing."""

from __future__ import annotations

import collections
import fcntl
import os
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

from compiler.runtime import pool
from compiler.runtime import protocol as P

blobs = st.binary(max_size=300)


def _window_done(writes: bytes, log: bytes, digests: bytes) -> P.WindowDone:
    return P.WindowDone(3, 1, writes, (b"", b"", b"x", b""), log, -1, np.arange(4, dtype=np.int64).tobytes(),
                        (np.arange(2, dtype=np.int64).tobytes(), digests), [(5, 1, "why", None)], (1, 1, 7),
                        0.5, 0.25, 0.125)


def _same(got, sent) -> None:
    """A field as unpacked holds what was sent (a raw field comes as views, in a list or a tuple as sent)."""
    if isinstance(sent, (list, tuple)) and any(isinstance(x, (bytes, memoryview)) for x in sent):
        assert type(got) is type(sent) and len(got) == len(sent)
        for g, s in zip(got, sent):
            _same(g, s)
    elif isinstance(sent, (bytes, memoryview)):
        assert bytes(got) == bytes(sent)
    else:
        assert got == sent


@given(blobs, blobs, blobs, st.lists(blobs, max_size=4), st.lists(blobs, max_size=4))
def test_every_message_comes_back_as_it_was_sent_whole_or_in_parts(writes, log, digests, sync, routed):
    messages = [
        _window_done(writes, log, digests),
        P.Window(2, 7, sync, writes),
        P.Finish(2, sync, b"", log, 12),
        P.Calls(4, routed),
        P.Routed(4, routed, 0.1, 0.2),
        P.Schedule(1, 2, 24, 10**6, memoryview(writes), 0, 1, b""),
        P.Scheduled(1, 0, 2, log, b"\x00" * 8, (writes, log), (), b"", b"", b"", 0.1, 0.1),
        P.Finished(9, 2**200, writes, log, digests, 0.1, 0.0, 0.1),
        P.Cut(1, 2, 3),
        P.Error(1, "boom"),
    ]
    for m in messages:
        parts = P.pack_parts(m)
        whole = P.pack(m)
        assert b"".join(parts) == whole
        for data in (whole, bytearray(whole), parts):
            got = P.unpack(data)
            assert type(got) is type(m)
            for name, g, s in zip(m._fields, got, m):
                _same(g, s)
                if name in P.RAW.get(type(m), ()):  # (views of the message: nothing was copied out of it)
                    assert all(isinstance(v, memoryview) for v in (g if isinstance(g, (list, tuple)) else [g]))


def test_a_raw_field_travels_after_the_header_without_being_copied_into_it():
    big = bytes(range(256)) * 1000
    parts = P.pack_parts(P.Window(1, 0, [big, b"", big[:10]], b""))
    assert any(p.obj is big for p in parts if isinstance(p, memoryview))  # (a view of the very object)
    assert sum(len(p) for p in parts) < len(big) + 11 + 200


def test_a_message_cut_short_or_with_bytes_over_says_so():
    whole = P.pack(_window_done(b"w" * 50, b"l" * 40, b"d" * 64))
    with pytest.raises(ValueError, match="WindowDone message of"):
        P.unpack(whole[:-3])
    with pytest.raises(ValueError, match="WindowDone message of"):
        P.unpack(whole + b"!")


def _through_a_pipe(message, size: int) -> bytes:
    """``message`` written whole to a pipe of ``size`` bytes by a thread, read back by ``receive``."""
    r, w = os.pipe()
    try:
        try:
            fcntl.fcntl(w, pool.F_SETPIPE_SZ, size)
        except OSError:
            pass  # (the system's least pipe is larger: the message is larger still)
        writer = threading.Thread(target=pool.write_all, args=(w, message))
        writer.start()

        class Conn:
            def fileno(self):
                return r

        got = bytes(pool.receive(Conn()))
        writer.join()
        return got
    finally:
        os.close(r)
        os.close(w)


def test_parts_written_to_a_pipe_smaller_than_them_arrive_whole():
    m = _window_done(os.urandom(200_000), b"", os.urandom(64_000))
    assert _through_a_pipe(P.pack_parts(m), 4096) == P.pack(m)
    assert _through_a_pipe(P.pack(m), 4096) == P.pack(m)
    assert _through_a_pipe([b"", b"ab", memoryview(b""), b"c"], 4096) == b"abc"


def _framed_through_a_pipe(frame: list, copy: bool = True):
    """A frame (:func:`pool.framed`) written to a pipe by a thread: the message read back, and its flags."""
    r, w = os.pipe()
    try:
        writer = threading.Thread(target=pool._write_frame, args=(w, frame))
        writer.start()
        got = pool._receive(r, copy)
        writer.join()
        return got
    finally:
        os.close(r)
        os.close(w)


def test_parts_lying_in_an_arena_the_reader_maps_travel_as_where_they_lie():
    arena = pool.Arena(1 << 20)
    try:
        m = _window_done(os.urandom(200_000), b"", os.urandom(64_000))
        whole = P.pack(m)
        there = arena.write(P.pack_parts(m))
        assert bytes(there) == whole and arena.used == len(whole)
        mapped = frozenset({arena.number})
        # Two parts in the arena, one of its own between them: the pipe carries the segments and "middle".
        frame = pool.framed([there[:1000], b"middle", there[1000:]], mapped)
        assert sum(map(len, frame)) < 100
        got, flags = _framed_through_a_pipe(frame)
        assert bytes(got) == whole[:1000] + b"middle" + whole[1000:] and flags == 0
        # Read without a copy, a message lying whole in the arena is a view of it there; a flag travels.
        got, flags = _framed_through_a_pipe(pool.framed(there, mapped, pool.RESET), copy=False)
        assert got.obj is arena.map and bytes(got) == whole and flags == pool.RESET
        assert P.unpack(got) == P.unpack(whole)
        # A reader that does not map the arena gets its bytes.
        frame = pool.framed(there, frozenset())
        assert sum(map(len, frame)) == 4 + len(whole)
        assert bytes(_framed_through_a_pipe(frame)[0]) == whole
        # What does not fit is not written; written from the start again, poisoned (tests) or not.
        assert arena.write(b"x" * (1 << 20)) is None and arena.used == len(whole)
        pool.POISON = True
        try:
            arena.reset()
        finally:
            pool.POISON = False
        assert arena.used == 0 and bytes(there[:4]) == b"\xab" * 4
    finally:
        arena.drop()


def test_consume_drops_exactly_what_was_written_across_parts():
    pending = collections.deque(pool.framed([b"abc", b"de", b"fghij"]))
    assert b"".join(bytes(v) for v in pending) == (10).to_bytes(4, "big") + b"abcdefghij"
    pool._consume(pending, 6)  # the length and "ab"
    assert [bytes(v) for v in pending] == [b"c", b"de", b"fghij"]
    pool._consume(pending, 3)
    assert [bytes(v) for v in pending] == [b"fghij"]
    pool._consume(pending, 5)
    assert not pending
