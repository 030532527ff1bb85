"""Receipts' canonical encoding (docs/formats.md), written by hand from the page's table, against
what Lane writes; and the receipts root over their digests."""

from __future__ import annotations

import hashlib
import marshal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.runtime import encoding
from compiler.runtime.roots import receipts_root
from fuzzing import fuzz_settings


def by_hand(value) -> bytes:
    """docs/formats.md's table, nothing else."""
    if value is None:
        return b"N"
    if value is True:
        return b"T"
    if value is False:
        return b"F"
    if isinstance(value, int):
        if -(1 << 31) <= value < (1 << 31):
            return b"i" + value.to_bytes(4, "little", signed=True)
        digits = []
        n = abs(value)
        while n:
            digits.append(n & 0x7FFF)
            n >>= 15
        count = len(digits) if value > 0 else -len(digits)
        return b"l" + count.to_bytes(4, "little", signed=True) + b"".join(d.to_bytes(2, "little") for d in digits)
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        return b"u" + len(raw).to_bytes(4, "little") + raw
    assert isinstance(value, tuple)
    return b"(" + len(value).to_bytes(4, "little") + b"".join(by_hand(v) for v in value)


WORDS = st.integers(0, 2**256 - 1) | st.integers(0, 2**31) | st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**160 - 1])
VALUES = WORDS | st.booleans() | st.none()
EVENTS = st.tuples(WORDS, st.text(min_size=1, max_size=12), st.lists(WORDS | st.booleans(), max_size=4).map(tuple))
OUTCOMES = st.tuples(st.sampled_from(["ok", "reverted", "invalid"]), st.none() | st.text(max_size=40),
                     VALUES, st.lists(EVENTS, max_size=3).map(tuple), st.integers(0, 10**6),
                     st.none() | st.just("token.lane:9:9"))


@fuzz_settings(300)
@given(st.lists(OUTCOMES, max_size=8))
def test_the_encoding_is_the_documented_one(outcomes):
    encodings = encoding.encode_outcomes(outcomes)
    assert encodings == [by_hand(o[:5]) for o in outcomes]  # ``at`` is not part of it
    assert encoding.unpack(encoding.pack(encodings)) == [o[:5] for o in outcomes]
    ends = b"".join(sum(map(len, encodings[:k + 1])).to_bytes(8, "little") for k in range(len(encodings)))
    assert encoding.pack(encodings) == marshal.dumps((b"", b"".join(encodings), ends), 0)  # (written by hand)
    digests = b"".join(hashlib.sha256(e).digest() for e in encodings)
    assert encoding.digests(encodings) == digests
    assert receipts_root(digests) == "0x" + hashlib.sha256(b"lane-receipts-v2" + digests).hexdigest()


def test_parts_in_any_order_unpack_in_block_order():
    import numpy as np

    outcomes = [("ok", None, i, (), i) for i in range(5)]
    enc = encoding.encode_outcomes(outcomes)
    parts = []
    for idx in ([3, 0], [4, 1, 2]):
        blob = b"".join(enc[i] for i in idx)
        ends = np.cumsum([len(enc[i]) for i in idx]).astype(np.int64)
        parts.append((np.array(idx, np.int64), blob, ends))
    assert encoding.unpack(encoding.pack_parts(parts)) == outcomes
    ends = np.concatenate([parts[0][2], parts[1][2] + len(parts[0][1])]).tobytes()
    assert encoding.pack_parts(parts) == marshal.dumps((np.array([3, 0, 4, 1, 2], np.int64).tobytes(),
                                                        parts[0][1] + parts[1][1], ends), 0)


def test_a_big_block_s_receipts_are_kept_compressed_and_read_back_whole():
    import numpy as np

    outcomes = [("ok", None, True, ((2**159 + i, "Transfer", (2**159 - i, i, 10**18 + i)),), 23) for i in range(2000)]
    enc = encoding.encode_outcomes(outcomes)
    raw = marshal.dumps((b"", b"".join(enc), np.cumsum([len(e) for e in enc]).astype(np.int64).tobytes()), 0)
    assert encoding.pack(enc) == raw
    packed = encoding.stored(raw)()
    assert len(raw) >= encoding.COMPRESS_FROM and packed[:4] == encoding.ZSTD_MAGIC
    assert len(packed) * 4 < len(raw)
    assert encoding.unpack(packed) == outcomes
    assert encoding.unpack(raw) == outcomes  # a file written before compression reads as it was
    halves = [np.arange(1, 2000, 2), np.arange(0, 2000, 2)]
    parts = [(idx, b"".join(enc[i] for i in idx), np.cumsum([len(enc[i]) for i in idx]).astype(np.int64))
             for idx in halves]
    assert encoding.unpack(encoding.stored(encoding.pack_parts(parts))()) == outcomes
    small = encoding.stored(encoding.pack(enc[:3]))()
    assert small[:4] != encoding.ZSTD_MAGIC and encoding.unpack(small) == outcomes[:3]


def _pieces(enc: list, idx) -> tuple:
    import numpy as np

    idx = np.asarray(idx, np.int64)
    return idx, b"".join(enc[i] for i in idx), np.cumsum([len(enc[i]) for i in idx], dtype=np.int64)


def test_lanes_compressed_receipts_are_kept_as_frames_each_a_part():
    """A lane sends its receipts once, compressed when big (``encoding.part``, of the transactions
    before a block index only); the parent keeps them as they came, beside a frame of its own."""
    import numpy as np

    outcomes = [("ok", None, True, ((2**159 + i, "Transfer", (2**159 - i, i, 10**18 + i)),), 23) for i in range(3000)]
    enc = encoding.encode_outcomes(outcomes)
    # Two lanes, each with windows of every other transaction; the parent ran 2,400 to 2,999 itself.
    lanes = [[_pieces(enc, range(lane + w, min(lane + w + 400, 2400), 2)) for w in range(0, 2400, 400)]
             for lane in (0, 1)]
    got = [encoding.part(pieces, 2400) for pieces in lanes]
    assert all(p[:4] == encoding.ZSTD_MAGIC for p in got)
    packed = encoding.pack_parts([_pieces(enc, range(2400, 3000))], got[::-1])
    assert packed.startswith(got[1] + got[0]) and encoding.stored(packed)() is packed
    assert encoding.unpack(packed) == outcomes
    assert [len(marshal.loads(f)[0]) // 8 for f in encoding.frames(packed)] == [1200, 1200, 600]
    # Only the transactions before the cut: the rest are the parent's to run again.
    cut = [encoding.part(pieces, 1000) for pieces in lanes]
    whole = [marshal.loads(encoding.frames(p)[0] if p[:4] == encoding.ZSTD_MAGIC else p) for p in cut]
    assert sorted(np.concatenate([np.frombuffer(idx, np.int64) for idx, _, _ in whole]).tolist()) == list(range(1000))
    assert encoding.unpack(encoding.pack_parts([_pieces(enc, range(1000, 3000))], cut)) == outcomes
    # Small parts go as they are, and are kept as one with the parent's (compressed later, if big).
    small = encoding.part([_pieces(enc, [0, 2])], 3000)
    assert small[:4] != encoding.ZSTD_MAGIC
    packed = encoding.pack_parts([_pieces(enc, [1])], [small])
    assert packed[:4] != encoding.ZSTD_MAGIC and encoding.unpack(packed) == outcomes[:3]
    with pytest.raises(ValueError, match="indices"):  # (a receipt missing, another twice)
        encoding.unpack(encoding.pack_parts([_pieces(enc, [0])], [small]))
    assert encoding.unpack(encoding.pack_parts([], [encoding.part([_pieces(enc, [5, 7])], 5)])) == []


def test_a_lone_surrogate_in_a_reason_is_written_as_itself():
    outcome = ("invalid", "unknown function '\ud800'", None, (), 0)
    (enc,) = encoding.encode_outcomes([outcome])
    assert enc == by_hand(outcome)
    assert encoding.unpack(encoding.pack([enc])) == [outcome]
