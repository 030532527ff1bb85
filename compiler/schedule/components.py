"""The connected components of a block's DAG, without the DAG: what the parallel executor needs.

Two transactions of one component may depend on each other; two of different
components never do, whatever order they run in.  :func:`partition` finds the
same components as the weakly connected components of
:func:`compiler.schedule.dag.build` (a test checks it), at a fraction of the
cost: it keeps no edges, only, per location, who touched it and how.

A location joins all its accessors into one component when someone writes it,
or when it is both read and added to; a location only read, or only added to
(a *pure add*), joins nobody.  A wildcard stands for every key of its
variable (of one instance, or of every instance when its address is unknown).
Keys are instantiated exactly as the DAG builder does, through the same
:class:`~compiler.schedule.forwarding.Forwarding` state: a key read from
storage that an earlier transaction of the block may write is each value it
may then hold.
"""

from __future__ import annotations

from ..vm.transaction import Tx, gc_paused
from .compiled import WILD, immutable_reader
from .forwarding import Forwarding

R, W, A = 0, 1, 2


class Partition:
    """Components of a block: ``comp[j]`` is a representative of transaction j's component."""

    def __init__(self, comp: list[int], accesses: list[list], pure: dict[tuple, list[int]], cost: list[int]) -> None:
        self.comp = comp
        self.accesses = accesses        # per transaction, its ((address, var id, key), mode)
        self.pure = pure                # pure-add location -> the transactions adding to it
        self.cost = cost


def partition(compiled, txs: list[Tx], storage: dict[int, list[dict]], number: int = 0,
              timestamp: int = 0) -> Partition:
    with gc_paused():
        return _partition(compiled, txs, storage, number, timestamp)


def _partition(compiled, txs: list[Tx], storage: dict, number: int, timestamp: int) -> Partition:
    slots = compiled.slots
    forwarding = Forwarding(storage, slots, compiled.key_vids)
    read, record = forwarding.read, forwarding.record
    stored: list = []
    imm = immutable_reader(storage, slots)

    entries = compiled.by_function_object
    n = len(txs)
    accesses: list[list] = []
    cost: list[int] = []
    # Per location: [accessors, modes seen as a bit set (1 read, 2 write, 4 add)].
    touched: dict[tuple, list] = {}
    wild: list[tuple[int, tuple, int]] = []
    for j, tx in enumerate(txs):
        entry = entries.get(tx.function) if tx.fn is not None else None
        if entry is None:
            accesses.append([])
            cost.append(0)
            continue
        cost.append(entry.cost)
        out: list = []
        entry.inst(tx.sender, tx.to, tx.args, read, number, timestamp, out, imm, stored)
        if stored:
            record(stored)
            stored.clear()
        accesses.append(out)
        for loc, mode in out:
            if loc[2] is WILD:
                wild.append((j, loc, mode))
                continue
            st = touched.get(loc)
            if st is None:
                touched[loc] = [[j], 1 << mode]
            else:
                st[0].append(j)
                st[1] |= 1 << mode

    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(group: list[int]) -> None:
        root = find(group[0])
        for j in group[1:]:
            r = find(j)
            if r != root:
                parent[r] = root

    pure: dict[tuple, list[int]] = {}
    for loc, (who, modes) in touched.items():
        if modes & 2 or modes == 5:  # written, or read and added to
            if len(who) > 1:
                join(who)
        elif modes == 4:
            # Only added to (a wildcard over it joins its adders into one component below: then
            # they are in one lane, and their adds exact there).
            pure[loc] = who
    if wild:
        _join_wildcards(wild, touched, join)
    return Partition([find(j) for j in range(n)], accesses, pure, cost)


def _join_wildcards(wild: list, touched: dict, join) -> None:
    """A wildcard access conflicts with every access of its variable's keys (of its instance, or
    of every instance when its address is unknown), and with the other wildcards there, unless
    both only read.  One group per instance's variable, so the work stays linear."""
    exact: dict[tuple, list[tuple[list, int]]] = {}     # (var id, address) -> [(accessors, modes)]
    for loc, (who, modes) in touched.items():
        exact.setdefault((loc[1], loc[0]), []).append((who, modes))
    scopes: dict[tuple, list[tuple[int, int]]] = {}     # (var id, address or None) -> [(j, mode)]
    for j, loc, mode in wild:
        scopes.setdefault((loc[1], loc[0]), []).append((j, mode))
    anywhere = {vid for vid, address in scopes if address is None}
    for (vid, address), accessors in scopes.items():
        if vid in anywhere and address is not None:
            continue  # covered by the variable's every-instance group below
        if address is None:  # every instance's: with the wildcards of one instance too
            accessors = [a for (v, _), acc in scopes.items() if v == vid for a in acc]
            keys = [entry for (v, _), entries in exact.items() if v == vid for entry in entries]
        else:
            keys = exact.get((vid, address), [])
        writes = any(mode != R for _, mode in accessors)
        group = [j for j, _ in accessors]
        others = False
        for who, modes in keys:
            if writes or modes & 6:  # a wildcard read meets each writer and adder
                group += who
                others = True
        if (writes or others) and len(group) > 1:
            join(group)
