"""State root and receipts root (SPEC §4), and how the state root follows a block's writes.

**State root.**  Every storage location whose value is not zero is encoded as
``address (20 bytes) | len(variable name) (2 bytes) | name | number of keys
(1 byte) | each key (32 bytes) | value (32 bytes)``, numbers big-endian,
booleans as 0 and 1, and hashed with BLAKE2b-512 (personalised
``lane-state-v2``).  The state's *accumulator* is the sum of these digests,
read as 512-bit big-endian integers, modulo 2^512: a multiset hash, so it does
not depend on any order, and a block moves it by adding the digests of the
locations it changed as they are after it and subtracting them as they were
before it: time proportional to the block's writes, not to the state
(:class:`StateHash`).  The state root is ``0x`` + the SHA-256 of the
accumulator's 64 bytes.  A zero value and a location never written are the
same state: neither is in the sum.

The additive hash is the cheapest homomorphic one (one BLAKE2b call per changed
location).  Its collision resistance is below that of its 512-bit digests (a
generalised-birthday search over many locations is the known attack); a lattice
hash over 1024 16-bit lanes, as Solana's accounts hash, is stronger and about
ten times dearer per location.  docs/formats.md says more.

**Receipts root.**  SHA-256 over ``lane-receipts-v2`` and the SHA-256 digest of
each receipt's canonical encoding (:mod:`compiler.runtime.receipts`), in block
order.
"""

from __future__ import annotations

import hashlib
from itertools import compress, repeat
from typing import Iterable, Iterator

from .changes import Changes, key_bytes, word_bytes
from .world import World

MOD = 1 << 512
PERSON = b"lane-state-v2"
_blake = hashlib.blake2b
_PERSONAL = _blake(person=PERSON)  # copied for each location's digest


def locations(world: World, storage: dict[int, list[dict]]) -> Iterator[tuple[int, str, tuple, object]]:
    """Every non-zero location as (address, variable, key tuple, value), in no particular order."""
    for address, variables in storage.items():
        layout = world.layout_of(address)
        for (name, index) in layout.index.items():
            arity = layout.key_arity[name]
            for key, value in variables[index].items():
                if not value:
                    continue
                yield address, name, (key if arity > 1 else () if arity == 0 else (key,)), value


def _word(v) -> bytes:
    return int(v).to_bytes(32, "big")


def encode_location(address: int, var: str, key: tuple, value) -> bytes:
    name = var.encode()
    return (address.to_bytes(20, "big") + len(name).to_bytes(2, "big") + name
            + bytes([len(key)]) + b"".join(_word(k) for k in key) + _word(value))


def location_digest(address: int, var: str, key: tuple, value) -> int:
    """A non-zero location's term of the accumulator."""
    return int.from_bytes(_blake(encode_location(address, var, key, value), person=PERSON).digest(), "big")


class _Variable:
    """How to encode the locations of one variable of one instance (its prefix made once)."""

    __slots__ = ("prefix", "arity")

    def __init__(self, address: int, name: str, arity: int) -> None:
        raw = name.encode()
        self.arity = arity
        self.prefix = address.to_bytes(20, "big") + len(raw).to_bytes(2, "big") + raw + bytes([max(arity, 0)])

    def digest_sum(self, keys: list, values: list) -> int:
        """The sum of the digests of the locations ``keys`` holding ``values`` (as
        :func:`location_digest`, with this variable's prefix made once), zeros left out.  The
        bytes are made by C code over the columns; each digest copies a hasher already
        personalised (``blake2b(data, person=...)`` parses its keywords at every call: 0.77 us a
        digest against 0.46 for a copy, an update and a digest)."""
        keys, values = list(compress(keys, values)), list(compress(values, values))
        data = map(b"".join, zip(repeat(self.prefix), key_bytes(self.arity, keys), word_bytes(values)))
        copy, from_bytes = _PERSONAL.copy, int.from_bytes
        total = 0
        for item in data:
            h = copy()
            h.update(item)
            total += from_bytes(h.digest(), "big")
        return total


class StateHash:
    """The accumulator of a world's state, kept up to date from the writes of each block."""

    def __init__(self, world: World, accumulator: int = 0) -> None:
        self.world = world
        self.accumulator = accumulator

    @classmethod
    def of(cls, world: World, storage: dict[int, list[dict]]) -> "StateHash":
        """The accumulator of a whole state, computed from scratch."""
        h = cls(world)
        h.accumulator = accumulate(locations(world, storage))
        return h

    @property
    def root(self) -> str:
        return root_of(self.accumulator)

    def _encoders(self, storage: dict[int, list[dict]]) -> dict[int, _Variable]:
        """The encoder of each variable's dict, by identity (made afresh: a state's dicts may be
        copies, and an id is only unique among living objects)."""
        out = {}
        world = self.world
        for address, variables in storage.items():
            layout = world.layout_of(address)
            for name, index in layout.index.items():
                out[id(variables[index])] = _Variable(address, name, layout.key_arity[name])
        return out

    def moved(self, storage: dict[int, list[dict]], changes: Changes) -> int:
        """The accumulator after a block's changes (:mod:`compiler.runtime.changes`);
        this one is not moved."""
        encoders = self._encoders(storage)
        total = self.accumulator
        for store, keys, olds, news in changes.groups:
            enc = encoders[id(store)]
            total += enc.digest_sum(keys, news) - enc.digest_sum(keys, olds)
        return total % MOD


def accumulate(locs: Iterable[tuple[int, str, tuple, object]]) -> int:
    """The accumulator of the non-zero locations ``locs`` ((address, variable, key tuple, value))."""
    return sum(location_digest(*loc) for loc in locs if loc[3]) % MOD


def root_of(accumulator: int) -> str:
    return "0x" + hashlib.sha256(accumulator.to_bytes(64, "big")).hexdigest()


def state_root(world: World, storage: dict[int, list[dict]]) -> str:
    """The state root of a whole state, computed from scratch (the reference for the incremental one)."""
    return StateHash.of(world, storage).root


def receipts_root(digests: bytes) -> str:
    """The receipts root over the receipts' digests, concatenated in block order
    (:func:`compiler.runtime.encoding.digests`)."""
    h = hashlib.sha256(b"lane-receipts-v2")
    h.update(digests)
    return "0x" + h.hexdigest()
