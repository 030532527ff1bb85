"""State root and receipts root (SPEC §4): canonical, independent of insertion order and hash seed.

The state root hashes every storage location whose value is not zero (a zero
location and a never-written one are the same state), sorted by its encoding:
the contract's 20-byte address, the variable's name, each key and the value
as 32-byte big-endian words.  The receipts root hashes the receipts' canonical
JSON in block order.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Iterator

from .world import World


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


def state_root(world: World, storage: dict[int, list[dict]]) -> str:
    items = sorted(encode_location(*loc) for loc in locations(world, storage))
    h = hashlib.sha256(b"lane-state-v1")
    for item in items:
        h.update(len(item).to_bytes(4, "big"))
        h.update(item)
    return "0x" + h.hexdigest()


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def receipts_root(receipts_json: Iterable[dict]) -> str:
    h = hashlib.sha256(b"lane-receipts-v1")
    for r in receipts_json:
        h.update(hashlib.sha256(canonical_json(r)).digest())
    return "0x" + h.hexdigest()
