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
block's receipts as the marshal encoding of the list of them, which is the
list's header followed by each receipt's encoding (:func:`pack`).

Everything here takes and returns bytes or plain tuples, so a worker process
encodes its own receipts and sends bytes.
"""

from __future__ import annotations

import hashlib
import marshal
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Iterable, Sequence

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


def pack(encodings: Sequence[bytes]) -> bytes:
    """A block's receipts as one value: the marshal encoding of the list of their outcomes."""
    return b"[" + len(encodings).to_bytes(4, "little") + b"".join(encodings)


def unpack(data: bytes) -> list[tuple]:
    """The outcomes of a packed block: ``(status, reason, return, events, cost)`` each."""
    return marshal.loads(data)
