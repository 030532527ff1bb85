"""Several calls as one block, run by the executors of ``lane run``.

``chain.run_block([token.transfer.tx(bob, 10, sender=alice), ...])`` or

    with chain.block(executor="parallel", workers=2) as b:
        token.transfer(bob, 10, sender=alice)      # collected, not run: returns a Call
        pool.swap(...)
    b.receipts

A block's items are :class:`~.contract.Call` objects, or transactions written as
in a block file (``{"from": "alice", "to": "token_1", "fn": "transfer", "args":
["bob", 10]}``), which are read as the block decoder reads a line: one that
cannot run is ``invalid`` in its receipt, as in a block file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from ..runtime.block import prepare
from ..vm.transaction import Tx
from ..runtime.chain import BlockResult
from ..runtime.world import World
from .contract import Call
from .errors import CallError
from .events import Receipt

if TYPE_CHECKING:  # pragma: no cover
    from .api import Chain


def transactions(world: World, items: Iterable[Any]) -> list[Tx]:
    """The block's transactions, in order: each Call as it is, each block-file object prepared."""
    txs: list[Tx] = []
    for k, item in enumerate(items):
        if isinstance(item, Call):
            f = item.function
            if f.chain.world is not world:
                raise CallError(f"{item!r} belongs to another chain")
            f._check_deployed()  # (made before a restore took its contract away)
            txs.append(Tx(k, k + 1, item.sender, f.to, f.instance, f.info, f.fn, item.args))
        elif isinstance(item, dict):
            (tx,) = prepare(world, [(k + 1, item)])
            tx.index = k
            txs.append(tx)
        else:
            raise CallError(f"block item #{k} is {type(item).__name__}: a block holds calls "
                            f"(token.transfer.tx(...)) or transactions as in a block file (dicts)")
    return txs


class BlockRun:
    """A block that ran: its ``receipts`` (one per transaction, in order), the ``result`` of the
    runtime (``state_root``, ``receipts_root``, ``detail`` of the parallel executor, ...)."""

    def __init__(self, result: BlockResult, receipts: list[Receipt]) -> None:
        self.result = result
        self.receipts = receipts

    number = property(lambda self: self.result.number)
    timestamp = property(lambda self: self.result.timestamp)
    state_root = property(lambda self: self.result.state_root)
    receipts_root = property(lambda self: self.result.receipts_root)
    detail = property(lambda self: self.result.detail)

    def __len__(self) -> int:
        return len(self.receipts)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.result.counts().items() if n)
        return f"<block {self.number}: {len(self)} transactions ({counts or 'none'})>"


class BlockCollector:
    """``with chain.block(...) as b``: calls made through handles inside are collected, and run as
    one block when the ``with`` ends without an exception (``b.run`` is then the :class:`BlockRun`)."""

    def __init__(self, chain: "Chain", options: dict) -> None:
        self.chain = chain
        self.options = options
        self.calls: list[Call] = []
        self.run: BlockRun | None = None

    def add(self, call: Call) -> Call:
        self.calls.append(call)
        return call

    @property
    def receipts(self) -> list[Receipt]:
        if self.run is None:
            raise RuntimeError("the block has not run yet: it runs when the 'with chain.block()' ends")
        return self.run.receipts

    def __enter__(self) -> "BlockCollector":
        if self.chain._collecting is not None:
            raise CallError("a block is already being collected: blocks do not nest")
        self.chain._collecting = self
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.chain._collecting = None
        if kind is None:
            self.run = self.chain.run_block(self.calls, **self.options)
