"""Canonical encodings of receipts, made in bulk by C code (msgspec, hashlib).

A receipt's canonical encoding is the compact JSON of the first five fields of its
outcome tuple, ``[status, reason, return, events, cost]`` (the sixth, where a revert
happened in the source, is left out: a receipts root does not change when a
contract's source is only reformatted): ``status`` one of ``"ok"``,
``"reverted"``, ``"invalid"``; ``reason`` a string or null; ``return`` the
raw return value (a number for a u256, an address or a contract reference,
true or false for a bool, null when there is none or the transaction failed);
``events`` a list of ``[address, event name, [arguments]]`` in emission order,
addresses and numbers as JSON integers; ``cost`` the cost it used.  JSON
integers are exact at any size here (msgspec writes and reads them without
floats).  Its digest is SHA-256 of those bytes; the receipts root hashes the
digests in block order (:func:`compiler.runtime.roots.receipts_root`); a state
file keeps a block's encodings as one JSON array.  docs/formats.md has examples.

Everything here takes and returns bytes or plain tuples, so a worker process
encodes its own receipts and sends bytes.
"""

from __future__ import annotations

import hashlib
from operator import itemgetter, methodcaller
from typing import Iterable, Sequence

import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_digest = methodcaller("digest")
_sha256 = hashlib.sha256
_canonical = itemgetter(0, 1, 2, 3, 4)  # an outcome without ``at`` (a C call, no tuple copied in Python)


def encode_outcomes(outcomes: Sequence[tuple]) -> list[bytes]:
    """Each outcome's canonical encoding (two C calls per outcome)."""
    try:
        return list(map(_encode, map(_canonical, outcomes)))
    except UnicodeEncodeError:  # a reason quoting a lone surrogate from the block file
        return [_encode(_printable(_canonical(o))) for o in outcomes]


def _printable(outcome: tuple) -> tuple:
    reason = outcome[1]
    if isinstance(reason, str):
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    return (outcome[0], reason, *outcome[2:])


def digests(encodings: Iterable[bytes]) -> bytes:
    """The SHA-256 digest of each encoding, concatenated (32 bytes each)."""
    return b"".join(map(_digest, map(_sha256, encodings)))


def pack(encodings: Iterable[bytes]) -> bytes:
    """A block's receipts as one JSON array of their encodings (what a state file keeps)."""
    return b"[" + b",".join(encodings) + b"]"


def unpack(data: bytes) -> list[list]:
    """The outcomes of a packed block, as lists ``[status, reason, return, events, cost]``."""
    return _decode(data)
