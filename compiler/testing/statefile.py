"""A test chain kept in a state file: ``Chain(state="chain.sqlite")``.

The chain runs in memory as any other (snapshots included); :meth:`Chain.commit`,
and closing the chain, write what changed since the last commit to the file, as
a block of ``lane run --state`` does (:class:`compiler.runtime.store.StateStore`).
The first commit also writes, beside the state file, the world file of its
contracts (``chain.world.toml`` for ``chain.sqlite``): accounts, cost limit and
deployments, each with the sender and arguments its ``init`` ran with.  So the
same file works with ``lane run``, ``lane call`` and ``lane schedule`` given that
world, and ``Chain(state="chain.sqlite")`` opens it again, its contracts and
state as they were committed.

What the file holds is fixed at the first commit: its contracts (a deployment
after it is refused: use a new state file) and its history (a snapshot taken
before a commit cannot be restored after it).  The file records the chain's
state at each commit, as a block without receipts: the transactions in between
ran in the chain's memory.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from ..diagnostics import LaneError
from ..runtime.chain import Chain as RuntimeChain
from ..runtime.encoding import pack
from ..runtime.changes import from_journal
from ..runtime.roots import receipts_root, root_of
from ..runtime.store import StateStore
from ..vm.values import format_address
from ..runtime.world import World

if TYPE_CHECKING:  # pragma: no cover
    from .api import Chain, Snapshot


def world_file_of(state: str) -> str:
    """Where the world file of a state file is: ``chain.world.toml`` beside ``chain.sqlite``."""
    root, _ = os.path.splitext(state)
    return root + ".world.toml"


class ChainFile:
    """A chain's state file: its store once the first commit made it, the journal's length and
    the block number at the last commit."""

    def __init__(self, path: str, store: StateStore | None, number: int, new: StateStore | None = None) -> None:
        self.path = path
        self.world_path = world_file_of(path)
        self.store = store          # the state file, once it holds the chain
        self._new = new             # the file opened (and checked) before it holds anything
        self.mark = 0
        self.number = number

    @classmethod
    def open(cls, state: str | os.PathLike, cost_limit: int):
        """The file, and what the chain starts from: ``(file, world, ctx, (number, timestamp),
        accumulator)``; for a file that holds nothing yet ``(file, None, None, (0, 0), 0)``: a new chain."""
        path = os.fspath(state)
        store = StateStore(path, writable=True)
        if store.new:
            return cls(path, None, 0, new=store), None, None, (0, 0), 0
        store.close()
        world_path = world_file_of(path)
        if not os.path.isfile(world_path):
            raise LaneError(f"state file {path} has no world file {world_path} beside it: it was not written by "
                            f"a Chain (open it with lane run WORLD --state {path})", code="state")
        runtime = RuntimeChain.open(world_path, path)
        if runtime.world.cost_limit != cost_limit:
            runtime.close()
            raise LaneError(f"state file {path} was made with cost_limit={runtime.world.cost_limit:,}, "
                            f"not {cost_limit:,}", code="state")
        file = cls(path, runtime.store, runtime.number)
        return file, runtime.world, runtime.ctx, (runtime.number, runtime.timestamp), runtime.hash.accumulator

    def check_deploy(self) -> None:
        if self.store is not None:
            raise LaneError(f"the contracts of state file {self.path} were fixed by its first commit: deploy "
                            f"before it, or use a new state file", code="state")

    def check_restore(self, snap: "Snapshot") -> None:
        if snap.journal < self.mark or snap.number < self.number:
            raise LaneError(f"the snapshot was taken before the last commit to {self.path}: the file holds the "
                            f"state after it", code="state")

    def commit(self, chain: "Chain") -> None:
        """Write what changed since the last commit (the first commit: everything, and the world file)."""
        ctx, world = chain.ctx, chain.world
        accumulator = chain._accumulator()
        root = root_of(accumulator)
        if self.store is None:
            text = self._world_text(world)
            world.path = self.world_path  # (named by it from now on: its identity is the one lane reads from it)
            # (the genesis first: a file another chain initialised meanwhile is refused before the
            # world file beside it is touched; the file stays this chain's to try again)
            self._new.write_genesis(world, ctx.storage, accumulator, root)
            self.store, self._new = self._new, None
            with open(self.world_path, "w", encoding="utf-8") as f:
                f.write(text)
            parent = 0
            changes = from_journal([])  # (the genesis holds everything so far)
        else:
            parent = self.number
            changes = from_journal(ctx.journal[self.mark:])
        if chain.number > parent:
            self.store.commit_block(changes, chain.number, chain.timestamp, 0, 0, root, receipts_root(b""),
                                    accumulator, pack([]), parent=parent)
        self.mark, self.number = len(ctx.journal), chain.number

    def close(self, chain: "Chain") -> None:
        try:
            self.commit(chain)
        finally:
            for store in (self.store, self._new):
                if store is not None:
                    store.close()

    def _world_text(self, world: World) -> str:
        """The world file of the chain's contracts (see the module's docstring)."""
        base = os.path.dirname(os.path.abspath(self.world_path))
        out = [f"# The contracts of the state file {os.path.basename(self.path)}, written when a chain of",
               "# compiler.testing first committed to it.  With it, lane run, lane call and lane schedule",
               "# use the same chain (--state).", "", "[accounts]"]
        out += [f"{_string(name)} = {_string(format_address(address))}" for name, address in world.accounts.items()]
        out += ["", "[chain]", f"cost_limit = {world.cost_limit}"]
        for entry in world.deployments:
            inst = world.instances[entry["name"]]
            where = os.path.join(entry.get("folder", ""), inst.data.root)  # (from where it was deployed)
            source = os.path.relpath(os.path.abspath(where), base).replace(os.sep, "/")
            out += ["", "[[deploy]]", f"name = {_string(inst.name)}", f"source = {_string(source)}",
                    f"contract = {_string(inst.contract.name)}", f"sender = {_string(entry['sender'])}",
                    f"args = {_value(entry['args'])}"]
        return "\n".join(out) + "\n"


def _string(text: str) -> str:
    """A TOML basic string (a JSON string is one, for the characters names and paths hold)."""
    return json.dumps(text, ensure_ascii=False)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return _string(str(value))
