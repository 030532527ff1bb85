"""A storage location's 64-bit id, one numbering for every process and phase.

A location is a variable of a deployed instance at one key: ``(address, index,
key)``, the index being the variable's place in its contract's storage (a
scalar's key is ``()``, a nested map's a tuple).  Its id is the hash of that
triple: the schedule's instantiated accesses, the lanes' logs and writes, and
the parent's windows all name a location by it, so the locations a plan
predicts and those a lane really touched can be compared.  Ids are hashes
(CPython's, of integers modulo 2^61 - 1: keys a sender chooses can share one):
two locations with one id are treated as one where that only joins what need
not be joined; where the lanes' results are merged by id, the lanes check at
the block's end that no two locations it changed have one id
(``replica.Replica._clash``).
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, Collection, Iterable

import numpy as np


def loc_id(address: int, index: int, key: Any) -> int:
    return hash((address, index, key))


def loc_ids(address: int, index: int, keys: Collection) -> np.ndarray:
    """:func:`loc_id` of each of a variable's ``keys`` in one instance (a list, or a dict's keys), by
    C code."""
    return loc_ids_of(repeat(address), index, keys, len(keys))


def loc_ids_of(addresses: Iterable, index: int, keys: Iterable, n: int) -> np.ndarray:
    """:func:`loc_id` of ``n`` locations of one variable, each in its own instance, by C code."""
    return np.fromiter(map(hash, zip(addresses, repeat(index, n), keys)), np.int64, n)


__all__ = ["loc_id", "loc_ids", "loc_ids_of"]
