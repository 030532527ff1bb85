"""What an executor delivers for a block: receipts as bytes, the state root's move, what to commit.

The sequential executor has every outcome in hand and every location the
block changed (its variables' values before it); the parallel executor's parent has neither, only what its lanes sent
(receipts encoded and hashed, the accumulator's move, rows for a state file).
:class:`Executed` holds either, and :mod:`compiler.runtime.chain` builds the
block's result and its commit from it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import encoding


@dataclass
class Executed:
    packed: bytes                        # the receipts (encoding.pack; from lanes, pack_parts: frames when big)
    digests: bytes                       # each receipt's digest, block order
    counts: dict[str, int]               # ok, reverted, invalid
    cost: int
    failures: list[tuple]                # (index, line, status, reason, at) of each failed transaction
    accumulator: int                     # the state root's accumulator after the block
    outcomes: list | None = None         # per transaction, when the executor had them
    changes: Any = None                  # the commit's Changes (runtime/changes.py), found in this process ...
    rows: dict | None = None             # ... or a state file's rows from lanes (store.Rows)
    undo: list | None = None             # on lanes: (dict, key, value before) of every write this
                                         # process's state took for the block, in order (what puts it back;
                                         # a value before may be changes.ABSENT: changes.known says it)
    pending_from: int | None = None      # ... and where the block's deferred writes begin (Chain.defer)
    detail: dict = field(default_factory=dict)
    block: Any = None                    # the decoded block, when the executor decoded it here
    returns: bytes | None = None         # how each receipt's return is shown (receipts.return_kinds), when
                                         # the executor has no decoded block (a state file keeps it)

    def all_outcomes(self) -> list[tuple]:
        """Every transaction's outcome ``(status, reason, return, events, cost)`` (decoded from the
        receipts when the executor did not keep them)."""
        if self.outcomes is None:
            self.outcomes = encoding.unpack(self.packed)
        return self.outcomes
