"""Canonical encodings of receipts, made by C code (marshal, hashlib), one call per receipt.

A receipt's canonical encoding is the first five fields of its outcome,
``(status, reason, return, events, cost)`` (the sixth, where in the source a
revert happened, is left out: a receipts root does not change when a contract's
source is only reformatted), written in the *marshal* format of CPython,
version 0: a compact binary form that C code writes at about a microsecond a
receipt, and that is simple enough to write by hand (docs/formats.md gives it
byte by byte; tests/test_encoding.py checks marshal against a small encoder
written from that description):

- ``status`` a string: ``"ok"``, ``"reverted"`` or ``"invalid"``;
- ``reason`` a string, or None;
- ``return`` the raw return value: an integer (a u256, an address, a contract
  reference), a boolean, or None when there is none or the transaction failed;
- ``events`` a tuple of ``(address, event name, (arguments...))`` in emission order;
- ``cost`` the cost the transaction used, an integer.

Its digest is SHA-256 of those bytes; the receipts root hashes the digests in
block order (:func:`compiler.runtime.roots.receipts_root`).  A state file keeps a
block's receipts as their encodings one after the other (:func:`pack`).

Everything here takes and returns bytes or plain tuples, so a worker process
encodes its own receipts and sends bytes.
"""

from __future__ import annotations

import hashlib
import marshal
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Callable, Iterable, Sequence

import numpy as np

VERSION = 0   # marshal's: no references between objects, no "interned" marks, so equal values, equal bytes
_dumps = marshal.dumps
_digest = methodcaller("digest")
_sha256 = hashlib.sha256
_canonical = itemgetter(0, 1, 2, 3, 4)  # an outcome without ``at`` (a C call, no tuple copied in Python)


def encode_outcomes(outcomes: Sequence[tuple]) -> list[bytes]:
    """Each outcome's canonical encoding (two C calls per outcome)."""
    return list(map(_dumps, map(_canonical, outcomes), repeat(VERSION)))


def digests(encodings: Iterable[bytes]) -> bytes:
    """The SHA-256 digest of each encoding, concatenated (32 bytes each)."""
    return b"".join(map(_digest, map(_sha256, encodings)))


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"   # how a Zstandard frame starts (a marshalled tuple starts "(\x03\0\0")
COMPRESS_FROM = 1 << 16           # bytes: a smaller block's receipts are kept as they are
_LEVEL = 3                        # about 10x smaller for receipts, at about 0.3 us a receipt


def stored(packed: bytes) -> Callable[[], bytes]:
    """A block's packed receipts (:func:`pack`) as a state file keeps them: compressed with
    Zstandard when they are 64 KiB or more.  Receipts repeat themselves (the same statuses, event
    names, addresses): a 100,000-transfer block's 14 MB become 1.5 MB, which SQLite writes twice
    (its log, then the file), in about a tenth of the time.  Big ones are compressed by a thread
    (Zstandard releases the GIL) while the caller goes on: the result is the call's.  Receipts
    compressed already (the lanes' frames, :func:`pack_parts`) are kept as they are."""
    if len(packed) < COMPRESS_FROM or packed[:4] == ZSTD_MAGIC:
        return lambda: packed
    import threading

    done: list = []
    thread = threading.Thread(target=lambda: done.append(compress(packed)), name="lane-receipts", daemon=True)
    thread.start()

    def result() -> bytes:
        thread.join()
        if not done:
            raise RuntimeError("compressing the block's receipts failed")
        return done[0]

    return result


def import_compressor() -> None:
    """Import Zstandard now (a few ms: a worker does it while it would wait, ahead of its receipts)."""
    import zstandard  # noqa: F401


def compress(data: bytes) -> bytes:
    """``data`` as one Zstandard frame."""
    import zstandard  # (not imported by a small block: 20 ms of start-up)

    return zstandard.ZstdCompressor(level=_LEVEL).compress(data)


def frames(data: bytes) -> list[bytes]:
    """What each of the Zstandard frames that ``data`` holds one after the other holds."""
    import zstandard

    out = []
    while data:
        reader = zstandard.ZstdDecompressor().decompressobj()
        try:
            out.append(reader.decompress(data))
        except zstandard.ZstdError as err:
            raise ValueError(f"a damaged Zstandard frame ({err})") from None
        if not reader.eof:
            raise ValueError("a Zstandard frame cut short")
        data = reader.unused_data
    return out


def part(pieces: Sequence[tuple[np.ndarray, bytes, np.ndarray]], before: int) -> bytes:
    """Receipts made by one process in pieces (each: the transactions' block indices, their
    encodings one after the other, where each ends), of the transactions before block index
    ``before`` only, as one value: ``(indices, encodings, ends)`` marshalled, as one Zstandard
    frame when that is COMPRESS_FROM bytes or more (a lane compresses its own: the parent, which
    gathers every lane's, receives a tenth of them, and keeps them as they come, :func:`pack_parts`)."""
    kept = [p if not len(p[0]) or p[0].max() < before else select(*p, p[0] < before) for p in pieces]
    packed = _marshal_parts([p for p in kept if len(p[0])])
    return compress(packed) if len(packed) >= COMPRESS_FROM else packed


def select(idx: np.ndarray, blob: bytes, ends: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, bytes, np.ndarray]:
    """The receipts of a part (indices, encodings, ends) that ``keep`` (a mask) keeps."""
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    view = memoryview(blob)
    pieces = [view[s:e] for s, e, k in zip(starts.tolist(), ends.tolist(), keep.tolist()) if k]
    return idx[keep], b"".join(pieces), np.cumsum([len(p) for p in pieces], dtype=np.int64)


def _marshal_three(idx: bytes, blobs: Sequence[bytes], size: int, ends: bytes) -> bytes:
    """``marshal.dumps((idx, b"".join(blobs), ends), VERSION)`` (``size`` the blobs' length), with
    the blobs copied once, into the result: a tuple of three bytes objects is ``(`` and its length,
    then each as ``s``, its length and its bytes (docs/formats.md)."""
    return b"".join((b"(" + (3).to_bytes(4, "little"), b"s" + len(idx).to_bytes(4, "little"), idx,
                     b"s" + size.to_bytes(4, "little"), *blobs, b"s" + len(ends).to_bytes(4, "little"), ends))


def _marshal_parts(parts: Sequence[tuple[np.ndarray, bytes, np.ndarray]]) -> bytes:
    """Parts ``(indices, encodings, ends)`` as one, marshalled (its indices say whose each is)."""
    if not parts:
        return pack([])
    idx = np.concatenate([i for i, _, _ in parts]).astype(np.int64)
    sizes = np.cumsum([0] + [len(b) for _, b, _ in parts])
    ends = np.concatenate([e + off for (_, _, e), off in zip(parts, sizes[:-1])]).astype(np.int64)
    return _marshal_three(idx.tobytes(), [b for _, b, _ in parts], int(sizes[-1]), ends.tobytes())


def pack(encodings: Sequence[bytes]) -> bytes:
    """A block's receipts in block order as one value: ``(indices, encodings, ends)`` marshalled,
    ``indices`` empty (see :func:`pack_parts`); a state file keeps it :func:`stored`."""
    ends = np.cumsum(np.fromiter(map(len, encodings), np.int64, len(encodings)))
    return _marshal_three(b"", encodings, int(ends[-1]) if len(ends) else 0, ends.tobytes())


def pack_parts(parts: Sequence[tuple[np.ndarray, bytes, np.ndarray]], packed: Sequence[bytes] = ()) -> bytes:
    """A block's receipts as the lanes of the parallel executor made them, in any order: each part
    (the transactions' block indices, their encodings one after the other, where each ends), and
    parts a lane packed already (:func:`part`).  A state file keeps ``(indices, encodings, ends)``,
    indices empty for block order: putting them in order is for whoever reads them back
    (:func:`unpack`), not for the block's time.  When a lane compressed its part, the receipts are
    kept as Zstandard frames one after the other, each a part: the lanes' as they came, and the
    parent's of the rest."""
    squeezed = [p for p in packed if p[:4] == ZSTD_MAGIC]
    parts = list(parts) + [(np.frombuffer(i, np.int64), b, np.frombuffer(e, np.int64))
                           for i, b, e in map(marshal.loads, (p for p in packed if p[:4] != ZSTD_MAGIC))]
    rest = _marshal_parts([p for p in parts if len(p[0])])
    if not squeezed:
        return rest
    return b"".join(squeezed + ([compress(rest)] if any(len(p[0]) for p in parts) else []))


def unpack(data: bytes) -> list[tuple]:
    """The outcomes of a packed block (as :func:`pack` or :func:`pack_parts` made it, or
    :func:`stored`), in block order: ``(status, reason, return, events, cost)`` each.  Bytes that
    are none of these (a damaged file's) raise ValueError, saying what is wrong."""
    try:
        parts = [marshal.loads(f) for f in frames(data)] if data[:4] == ZSTD_MAGIC else [marshal.loads(data)]
        outcomes: list = []
        for _, blob, ends in parts:
            ends_list = np.frombuffer(ends, np.int64).tolist()
            outcomes += [marshal.loads(blob[s:e]) for s, e in zip([0] + ends_list[:-1], ends_list)]
        idx = np.frombuffer(b"".join(i for i, _, _ in parts), np.int64)  # (empty: one part, in block order)
    except (EOFError, TypeError, ValueError) as err:  # (marshal's, a tuple of another shape, numpy's)
        raise ValueError(str(err)) from None
    if len(idx):
        order = np.argsort(idx, kind="stable")
        if len(idx) != len(outcomes) or (idx[order] != np.arange(len(idx))).any():
            raise ValueError("their indices are not each transaction's once")
        outcomes = [outcomes[k] for k in order.tolist()]
    return outcomes
