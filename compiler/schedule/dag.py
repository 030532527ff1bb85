"""From a block to its dependency DAG (SPEC §3).

Transaction j depends on an earlier i when their instantiated accesses
conflict (write/write, read/write, add/read, add/write).  The builder visits
the block once, in order, and keeps per location its last writer and the
readers and adders since; per variable, the wildcard writer and readers and
who touched any of its keys since the last wildcard write.  So no pair of
transactions is ever compared, and the time is linear in the block's accesses.
So are the edges: an edge implied by others is left out (a location's writes
are a chain), and where each of many would follow each of many (reads and adds
of one location in turn, writes after reads of every key, reads of every key
after many writes), a transaction that follows more than ``DIRECT_EDGES`` of
them stands for them from then on (``_wildcard_read``'s cover, for a read of
every key): the next follow it alone, an edge that may order two transactions
which need not be, and keeps the DAG linear.

A dynamic key (one read from storage) is resolved against the pre-block
state; when an earlier transaction of the block may write the location it is
read from, it is each value that location may then hold: its value before the
block and the value each earlier writer stores, as the writers' summaries say
it (:mod:`compiler.schedule.forwarding`); a wildcard over its variable only
when some writer's value cannot be said.  A value only ``init`` writes (a
pool's tokens) is read once per block.

Two adds to one location get no edge (SPEC §2.3): any order of the DAG leaves
the same sum, but an add that would leave 0 .. 2^256-1 reverts in one order
and not in another.  Exactness there is the executor's job: the parallel
executor checks every add in block order when it merges.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..vm.transaction import Tx, gc_paused
from ..vm.values import format_address
from ..semantics.types import zero_value
from .compiled import (WILD, CompiledSummary, VarIds, compile_summary, immutable_reader, key_variables,
                       restore_summary)
from .forwarding import Forwarding

if TYPE_CHECKING:
    from ..runtime.world import World

R, W, A = 0, 1, 2
_NONE: tuple = ()  # shared by every transaction without predecessors
# A read (an add) that follows more than this many adds (reads) of one location since its last write
# stands for them from then on: the next reads (adds) and its next writer follow it alone.
DIRECT_EDGES = 16
MODE_NAMES = ("read", "write", "add")


class _SummaryCache:
    """A world's compiled summaries kept on disk (in the analysis cache's folder): each summary's
    generated code, compiled, and the numbering of the variables it was generated with.  Generating
    and compiling them takes a fifth of a second for a world of a few contracts, in every process
    that schedules (each worker of the parallel executor).  Keyed by Lane's own code, Python's
    version, and the world's contracts in deployment order with their programs' texts: anything
    else misses and compiles again."""

    def __init__(self, world: "World") -> None:
        import hashlib
        import sys

        from ..pipeline import code_hash

        h = hashlib.sha256(b"lane-compiled-summaries-v1\0" + code_hash() + sys.version.encode())
        for inst in world.instances.values():
            h.update(b"\0" + inst.contract.name.encode())
            for name, text in sorted(inst.data.sources.items()):
                h.update(b"\0" + name.encode("utf-8", "surrogatepass") + b"\0" + text.encode("utf-8", "surrogatepass"))
        self.key = h.hexdigest()

    def _path(self):
        from ..analysis.report import cache_dir

        return cache_dir() / f"{self.key}.summaries"

    def load(self) -> dict | None:
        import marshal

        try:
            return marshal.loads(self._path().read_bytes())
        except Exception:  # noqa: BLE001 - missing, unreadable or damaged: compile again
            return None

    def store(self, names: list, by_function: dict) -> None:
        import marshal

        from ..analysis.report import write_whole

        try:
            write_whole(self._path(), marshal.dumps({"names": list(names), "code": {
                key: (entry.source, marshal.dumps(entry.code)) for key, entry in by_function.items()}}))
        except (OSError, ValueError):
            pass  # a cache that cannot be written only costs time


class Compiled:
    """The compiled summaries of every pub function deployed in a world, and the variable numbering."""

    def __init__(self, world: World) -> None:
        self.world = world
        cache = _SummaryCache(world)
        kept = cache.load()
        try:
            self._build(kept)
        except Exception:  # noqa: BLE001 - a kept blob that does not fit (damaged): compiled again
            if kept is None:
                raise
            kept = None
            self._build(None)
        if kept is None:
            cache.store(self.var_ids.names, self.by_function)

    def _build(self, kept: dict | None) -> None:
        """Every summary compiled (or restored from ``kept``: the cache's numbering and code)."""
        self.var_ids = VarIds()
        self.by_function: dict[tuple[str, str], CompiledSummary] = {}
        self.slots: dict[int, tuple[int, Any]] = {}  # var id -> (index in an instance's storage, zero)
        if kept is not None:
            for name in kept["names"]:
                self.var_ids(*name)
        for inst in self.world.instances.values():
            layouts = inst.program.layouts
            for qualname, summary in inst.data.summaries.items():
                key = (summary.function.contract.name, summary.function.name)
                if key not in self.by_function:
                    code = kept["code"].get(key) if kept is not None else None
                    self.by_function[key] = (compile_summary(summary, self.var_ids) if code is None else
                                             restore_summary(summary, *code))
            for contract, layout in layouts.items():
                for var, index in layout.index.items():
                    self.slots[self.var_ids(contract, var)] = (index, zero_value(layout.value_type[var]))
        # The variables read to make keys: forwarding follows more of their values (forwarding.py).
        self.key_vids: frozenset[int] = frozenset(self.var_ids(c, v) for c, v in key_variables(
            entry.summary for entry in self.by_function.values()))

    @functools.cached_property
    def by_function_object(self) -> dict:
        """The compiled summaries by Function object (what a prepared transaction holds)."""
        out = {}
        for inst in self.world.instances.values():
            for fn in inst.contract.functions.values():
                entry = self.by_function.get((fn.contract.name, fn.name))
                if entry is not None:
                    out[fn] = entry
        return out

    def describe(self, loc: tuple) -> str:
        address, vid, key = loc
        contract, var = self.var_ids.names[vid]
        where = self.world.name_of(address) if address is not None else None
        head = f"{where or (format_address(address) if address is not None else contract + '(any)')}.{var}"
        if key is WILD:
            return head + "[*]"
        keys = () if key == () else key if isinstance(key, tuple) else (key,)
        return head + "".join(f"[{_key_text(self.world, k)}]" for k in keys)


def _key_text(world: World, k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int) and k >= 1 << 64:
        name = world.name_of(k)
        return name or format_address(k)
    if isinstance(k, int):
        name = world.name_of(k)
        return name if name is not None else str(k)
    return str(k)


@dataclass
class Schedule:
    """The DAG of a block: edges from an earlier transaction to a later one, with their locations."""

    txs: list[Tx]
    cost: list[int]
    sources: list[int] = field(default_factory=list)   # edge i -> j, one entry per (i, j, location)
    targets: list[int] = field(default_factory=list)
    labels: list[tuple] = field(default_factory=list)
    accesses: list[list] | None = None
    seconds: float = 0.0
    compiled: Compiled | None = None
    preds: "list[tuple[int, ...]] | None" = None  # the distinct predecessors of each transaction
    forwarded: int = 0  # reads of a key answered with the values earlier transactions may store

    # ------------------------------------------------------------- structure
    def edge_locations(self) -> dict[tuple[int, int], list[tuple]]:
        out: dict[tuple[int, int], list[tuple]] = {}
        for i, j, loc in zip(self.sources, self.targets, self.labels):
            locs = out.setdefault((i, j), [])
            if loc not in locs:
                locs.append(loc)
        return out

    def predecessors(self) -> list[list[int]]:
        if self.preds is not None:
            return self.preds
        preds: list[list[int]] = [[] for _ in self.txs]
        seen: set[tuple[int, int]] = set()
        for i, j in zip(self.sources, self.targets):
            if (i, j) not in seen:
                seen.add((i, j))
                preds[j].append(i)
        return preds

    def component_ids(self) -> list[int]:
        """For each transaction, a representative of its weakly connected component (union-find)."""
        preds = self.predecessors()
        parent = list(range(len(self.txs)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for j, ps in enumerate(preds):
            for i in ps:
                a, b = find(i), find(j)
                if a != b:
                    parent[a] = b
        return [find(x) for x in range(len(parent))]

    def stats(self) -> dict:
        with gc_paused():
            return self._stats()

    def _stats(self) -> dict:
        n = len(self.txs)
        preds = self.predecessors()
        edges = sum(len(p) for p in preds)
        components = len(set(self.component_ids()))
        # Longest paths; block order is a topological order.
        depth = [0] * n
        weight = [0] * n
        for j, ps in enumerate(preds):
            depth[j] = 1 + max((depth[i] for i in ps), default=0)
            weight[j] = self.cost[j] + max((weight[i] for i in ps), default=0)
        critical = max(depth, default=0)
        critical_cost = max(weight, default=0)
        total = sum(self.cost)
        return {
            "transactions": n,
            "edges": edges,
            "components": components,
            "critical_path": critical,
            "critical_path_cost": critical_cost,
            "total_cost": total,
            "parallelism": round(total / critical_cost, 3) if critical_cost else float(n > 0),
        }

    def hot_locations(self, top: int = 5) -> list[tuple[str, int]]:
        """The locations that cause the most edges."""
        counts = Counter(self.labels)  # the builder records each (i, j, location) once
        assert self.compiled is not None
        return [(self.compiled.describe(loc), c) for loc, c in counts.most_common(top)]

    # ------------------------------------------------------------------ export
    def to_networkx(self):
        import networkx as nx

        assert self.compiled is not None
        world = self.compiled.world
        g = nx.DiGraph()
        for tx, cost in zip(self.txs, self.cost):
            # (the target as SPEC §3 names it, and as the block's line does: ``to``)
            if tx.fn is None and tx.written:  # (an invalid one: as its line wrote them)
                sender, target, function = tx.written
            else:
                target = tx.instance.name if tx.instance else world.name_of(tx.to) or format_address(tx.to)
                sender = world.name_of(tx.sender) or format_address(tx.sender)
                function = tx.function.name if tx.function else ""
            g.add_node(tx.index, index=tx.index, sender=sender, target=target, to=target, function=function,
                       cost=cost, status="invalid" if tx.fn is None else "valid")
        for (i, j), locs in self.edge_locations().items():
            g.add_edge(self.txs[i].index, self.txs[j].index,
                       locations=[self.compiled.describe(loc) for loc in locs])
        return g


def build(compiled: Compiled, txs: list[Tx], storage: dict[int, list[dict]], number: int = 0,
          timestamp: int = 0, keep_accesses: bool = False, given: list[list] | None = None) -> Schedule:
    """The DAG of ``txs`` on the pre-block ``storage`` (see the module's doc).  With ``given``, the
    DAG of those accesses, per transaction, instead of the instantiated ones (the oracle's).

    Per location: [last writer, readers since, adders since (either: or one transaction that
    follows all of them), the list to join at its first write or add since the last wildcard
    write (None once it has), the location, how many of its adders a read of every key has
    covered].  Per (address, var) and (None, var) for every instance: [wildcard
    writer, wildcard readers (or one writer after many of them, which stands for them)]; per
    (address, var), [the locations touched since the last wildcard write, those of them written
    or added to since, the last read of every key that covered them], so a wildcard orders itself
    after each location's last writer, readers and adders (earlier ones are ordered before those
    already).  A wildcard write forgets those locations (their state is the wildcard writer's),
    so each location is visited by one wildcard write only, and a wildcard read visits only
    locations written since the read that covered the ones before: the time and the edges stay
    linear in the accesses.
    """
    start = time.perf_counter()
    with gc_paused():
        return _build(compiled, txs, storage, number, timestamp, keep_accesses, start, given)


def _build(compiled: Compiled, txs: list[Tx], storage: dict[int, list[dict]], number: int,
           timestamp: int, keep_accesses: bool, start: float, given: list[list] | None) -> Schedule:
    slots = compiled.slots
    loc_state: dict[tuple, list] = {}
    wild: dict[tuple, list] = {}              # (address or None, var id) -> [writer, readers]
    var_locs: dict[tuple, list] = {}          # (address, var id) -> [touched locations, written ones, cover]
    sources: list[int] = []
    targets: list[int] = []
    labels: list[tuple] = []
    preds: list[list[int]] = []
    cost: list[int] = []
    kept: list[list] | None = [] if keep_accesses else None

    forwarding = Forwarding(storage, slots, compiled.key_vids)
    read, record = forwarding.read, forwarding.record
    stored: list = []  # what one transaction may store, for the readers after it
    imm = immutable_reader(storage, slots)

    entries = compiled.by_function_object
    out: list = []
    found: list = []  # (i, location) for each edge into j
    add = found.append
    for j, tx in enumerate(txs):
        entry = entries.get(tx.function) if tx.fn is not None else None
        if entry is None:
            cost.append(0)
            preds.append([])
            if kept is not None:
                kept.append([])
            continue
        cost.append(entry.cost)
        if given is not None:
            out = given[j]
        elif kept is not None:
            out = []
        else:
            out.clear()  # one list reused: the locations it held die at once, memory stays warm
        if given is None:
            entry.inst(tx.sender, tx.to, tx.args, read, number, timestamp, out, imm, stored)
            if stored:
                record(stored)
                stored.clear()
        if kept is not None:
            kept.append(out)
        found.clear()
        for loc, mode in out:
            address, vid, key = loc
            if key is WILD:
                _wildcard(wild, var_locs, loc_state, j, loc, mode, add)
                continue
            st = loc_state.get(loc)
            if st is None:
                group = var_locs.get((address, vid))
                if group is None:
                    group = var_locs[(address, vid)] = [[], [], None]
                group[0].append(loc)
                st = loc_state[loc] = [None, [], [], group[1], loc, 0]
            else:
                loc = st[4]  # the one tuple kept for this location (edges point to it)
            if wild:
                for where in ((address, vid), (None, vid)):
                    w = wild.get(where)
                    if w is not None:
                        if w[0] is not None:
                            add((w[0], loc))
                        if mode != R:
                            readers = w[1]
                            for i in readers:
                                add((i, loc))
                            if len(readers) > DIRECT_EDGES:
                                w[1] = [j]  # (j follows them all: the writers after it follow j)
            last = st[0]
            if mode == R:
                if last is not None:
                    add((last, loc))
                adders = st[2]
                for i in adders:
                    add((i, loc))
                if len(adders) > DIRECT_EDGES:  # (j follows them all: it stands for them from now on)
                    st[2] = [j]
                    st[5] = 0
                st[1].append(j)
            elif mode == W:
                if last is not None:
                    add((last, loc))
                for i in st[1]:
                    add((i, loc))
                for i in st[2]:
                    add((i, loc))
                st[0] = j
                if st[1]:
                    st[1] = []
                if st[2]:
                    st[2] = []
                    st[5] = 0
                if st[3] is not None:  # the first write or add since the last wildcard write
                    st[3].append(loc)
                    st[3] = None
            else:  # add: after writers and readers, not after other adds
                if last is not None:
                    add((last, loc))
                readers = st[1]
                for i in readers:
                    add((i, loc))
                if len(readers) > DIRECT_EDGES:  # (j follows them all: it stands for them from now on)
                    st[1] = [j]
                st[2].append(j)
                if st[3] is not None:
                    st[3].append(loc)
                    st[3] = None
        if not found:
            preds.append(_NONE)
            continue
        mine: list[int] = []
        many = len(found) > DIRECT_EDGES  # (then each predecessor once by a dict, not by scanning the list)
        for edge in (dict.fromkeys(found) if len(found) > 2 else found if len(found) == 1 or
                     found[0] != found[1] else found[:1]):
            i = edge[0]
            if i != j:
                sources.append(i)
                targets.append(j)
                labels.append(edge[1])
                if many or i not in mine:
                    mine.append(i)
        # (a tuple: half the memory of a list, for a million of them)
        preds.append(tuple(dict.fromkeys(mine)) if many else tuple(mine))
    return Schedule(list(txs), cost, sources, targets, labels, kept, time.perf_counter() - start, compiled, preds,
                    forwarding.choices)


def _wildcard(wild: dict, var_locs: dict, loc_state: dict, j: int, loc: tuple, mode: int, add) -> None:
    """A read or write of every key of a variable (of one instance, or of every instance)."""
    address, vid, _ = loc
    if address is None:
        groups = [g for (a, v), g in var_locs.items() if v == vid]
    else:
        groups = [var_locs[(address, vid)]] if (address, vid) in var_locs else []
    # Wildcards on the same scope or a wider/narrower one order against each other too.
    related = [w for (a, v), w in wild.items() if v == vid and (address is None or a in (None, address))]
    for w in related:
        if w[0] is not None:
            add((w[0], loc))
        if mode != R:
            for i in w[1]:
                add((i, loc))
    # A read follows the writers and adders of the locations written since the last wildcard
    # write (each gives an edge); a write follows everything done to every location since.
    if mode == R:
        for group in groups:
            _wildcard_read(group, loc_state, j, loc, add)
        wild.setdefault((address, vid), [None, []])[1].append(j)
        return
    for touched, written, _ in groups:
        for key in touched:
            st = loc_state[key]
            if st[0] is not None:
                add((st[0], loc))
            for i in st[2]:
                add((i, loc))
            for i in st[1]:
                add((i, loc))
    # Every location of the scope now has j as its last writer, which the wildcard state says.
    for group in groups:
        for key in group[0]:
            del loc_state[key]
        group[0].clear()
        group[1].clear()
        group[2] = None
    w = wild.setdefault((address, vid), [None, []])
    w[0] = j
    w[1] = []


def _wildcard_read(group: list, loc_state: dict, j: int, loc: tuple, add) -> None:
    """A read of every key of one instance's variable: after the writers and adders of its locations
    written since the last wildcard write, but for those an earlier wildcard read (the group's cover)
    follows already.  A read that takes more than a few edges covers them: the locations it visited
    leave the written list (a later write or add puts one back), so wildcard reads and writes in
    turn make a DAG linear in the accesses, not one edge from every writer to every reader."""
    touched, written, cover = group
    if cover is not None:
        add((cover, loc))
    edges = 0
    for key in written:
        st = loc_state[key]
        if st[0] is not None:
            add((st[0], loc))
        adders = st[2]
        for i in adders[st[5]:] if st[5] else adders:
            add((i, loc))
        edges += 1 + len(adders) - st[5]
    if edges > DIRECT_EDGES:
        for key in written:
            st = loc_state[key]
            st[3] = written  # (back in the list at its next write or add)
            st[5] = len(st[2])
        written.clear()
        group[2] = j


def topological_orders_agree(schedule: Schedule, order: Iterable[int]) -> bool:
    """Whether ``order`` (positions in the block) respects every edge of the schedule."""
    position = {j: k for k, j in enumerate(order)}
    return all(position[i] < position[j] for i, j in zip(schedule.sources, schedule.targets))
