"""The messages between the parallel executor and its workers: bytes, with named layouts.

Every message is a header, the marshal encoding of a tuple ``(kind, field,
...)`` (after its length, 4 bytes), then the bytes of its raw fields (:data:`RAW`: the bulk of a block's
messages, written as they lie and read as views, never copied into the message
or out of it; :func:`pack_parts`).  Its layout is the
:class:`typing.NamedTuple` of that kind below, and arrays travel as the raw
bytes of a numpy array of the dtype the field's comment names.  A transport
carries bytes and nothing else: processes' pipes here (each message's parts
written one after the other), Dask's connections (``--executor dask``)
elsewhere.

A block on lanes goes:

1. ``Schedule`` to each worker with a stripe of the block (its bytes, or its
   calls decoded already); ``Scheduled`` back: the stripe's calls, and its
   instantiated accesses as arrays of location ids.  When an access's key was
   read from a location an earlier transaction may write, ``Reschedule`` asks
   again for those transactions, with the values the earlier writers may store
   there (what ``Scheduled.stored`` said), or those locations unresolved.
2. With a few workers on one machine, ``Peers`` gives each worker, while the
   parent plans, the calls the other stripes decoded (as their ``Scheduled``
   said them) and the block's access rows: each then holds the whole block's,
   and ``Lanes`` (the lane of each transaction and the windows) is all it
   needs.  Otherwise (many workers, or a network between them), ``Routed``
   comes back: the calls of the stripe's transactions and their accesses as
   instantiated, by lane; ``Calls`` forwards each lane those of its
   transactions that other stripes decoded.  Then, per window, ``Window`` (with the previous window's
   writes of the other lanes, to apply first) and ``WindowDone`` back: what the
   lane wrote, its receipts' digests, and the first of its transactions that
   touched what its lane was not predicted to (a window without wildcards) or
   wrote it (a window with one; then also the accesses it really made).  A
   window may be *shared* in part: every lane also has the calls of its
   cheapest components (none that adds to a location another adds to), cut
   into chunks, and after its own part takes chunks in turn until none is left
   (:class:`compiler.runtime.pool.Turns`), so a lane on a slower core runs less.
3. ``Cut`` undoes a window's transactions from one on (a conflict was found);
   ``Finish`` applies the last window's writes and ends the block; ``Finished``
   back: the state root's move, the rows of a state file for the locations
   the lane was the first to change (each changed location has one owner), and
   the encodings of the lane's receipts (compressed when big: the parent, which
   gathers every lane's, receives a tenth of them).

Between blocks, ``Sync`` brings replicas left behind by blocks the parent ran alone in step: what
those blocks changed (no reply).
"""

from __future__ import annotations

import marshal
from typing import Any, NamedTuple

import numpy as np

I64, I32, I8 = np.int64, np.int32, np.int8


def arr(data: bytes, dtype) -> np.ndarray:
    return np.frombuffer(data, dtype=dtype)


# -------------------------------------------------------------------- parent -> worker

class Schedule(NamedTuple):
    block: int                 # the block's serial number in this executor's life
    number: int
    timestamp: int
    cost_limit: int
    stripe: bytes              # whole lines of the block file, or b"" when ``calls`` is given
    first_index: int           # the position the stripe's transactions are numbered from (0: the parent adds)
    first_line: int
    calls: bytes               # marshal: [(fn id or -1, call tuple)] decoded by the parent (tests, small blocks)


class Reschedule(NamedTuple):
    block: int
    txs: bytes                 # int64: transactions to instantiate again (positions in the stripe) ...
    locs: bytes                # int64: ... each with a location earlier transactions of the block write ...
    values: bytes              # marshal: ... and, for each, the values they may store there (a tuple), or
                               #  None: unresolved


class Lanes(NamedTuple):
    block: int
    lane: int                  # this worker's lane number
    count: int                 # how many lanes (workers) the block runs on
    lanes: bytes               # int8: the lane of each transaction of the block (-1: none: invalid, or in a
                               #  window the parent runs; ``count``: the parent's part of a window on lanes,
                               #  which it runs beside them)
    windows: bytes             # int64: the first transaction of each window, and the block's length last
    first: int                 # the block index of this worker's stripe's first transaction
    fnids: bytes               # int32: each transaction's function id (-1: invalid)
    adds: bytes                # int64: per window, sorted, the locations predicted to be only added to, by
                               #  several lanes (whose extents a lane sends, WindowDone.adds)
    add_offsets: bytes         # int64: each window's first place in ``adds``, and their count last
    checked: bytes             # int8 per window: 1 where each lane checks its accesses against the rows of its
                               #  transactions (WindowDone.untrusted), 0 where it checks its writes only and
                               #  sends its accesses (WindowDone.log)
    chunks: bytes              # int32 per transaction: in a shared part of a window, the chunk it is in (a lane
                               #  runs the chunks it takes, pool.Turns, each in block order, after its own
                               #  part); -1 elsewhere (b"": no window is shared)


class Peers(NamedTuple):
    block: int
    calls: list                # every stripe's Scheduled.calls, in block order, b"" for the worker's own stripe
    rows: tuple                # (tx int64, loc int64, mode int8, wild bool) bytes: the block's access rows, as
                               #  the plan has them (keys settled: Reschedule), transactions by block index


class Calls(NamedTuple):
    block: int
    routed: list               # the other stripes' Routed blobs for this lane


class Window(NamedTuple):
    block: int
    window: int
    sync: list                 # marshal blobs of the previous window's writes of the other lanes
    fixups: list               # the merged adds of the previous window, applied after ``sync``: a marshal blob of
                               #  {(address, index): {key: value}} (b"": none), then per lane whose extents give
                               #  some: their first part, the places in it, the moves' sums (int64), as
                               #  accesses.merged_writes takes them ([]: none)


class Cut(NamedTuple):
    block: int
    window: int
    stop: int                  # undo this window's transactions from this block index on


class Sync(NamedTuple):
    block: int                 # the executor's last block's serial number
    sync: list                 # marshal blobs: what blocks the parent ran alone changed, {(address, index):
                               #  {key: value}}: the replicas brought in step (no reply)


class Finish(NamedTuple):
    block: int
    sync: list
    fixups: list
    owned: bytes               # int64: the locations (log ids) this lane is the first in the block to change
    before: int                # the lane's receipts of the transactions before this block index are the
                               #  block's (Finished.receipts; the parent ran the rest, from a conflict)


# -------------------------------------------------------------------- worker -> parent

class Scheduled(NamedTuple):
    block: int
    first_index: int
    n: int
    calls: bytes               # marshal: the stripe's call tuples (an invalid transaction's: ())
    fnids: bytes               # int32 per transaction (-1: invalid)
    rows: tuple                # (tx int64, loc int64, var int64, inst int64, mode int8, wild bool) as bytes
    sources: tuple             # (tx int64, loc int64, var int64, inst int64): locations keys were read from
    stored: bytes              # marshal: ([tx], [loc], [value or None]): values a transaction may store at a
                               #  location of a variable read to make keys (None: not known)
    invalid: bytes             # marshal: [(index, line, reason)] of the stripe's invalid transactions
    lines: bytes               # int64: each transaction's line in the block file (b"": the stripe's first
                               #  line and on, a transaction a line)
    seconds: float
    cpu: float                 # of which the worker's CPU time (every reply has both)


class WindowDone(NamedTuple):
    block: int
    window: int
    writes: bytes              # marshal: {(address, index): {key: value}} the lane's writes (final values)
    adds: tuple                # (loc ids int64, sorted; the first transaction that added to each, int64;
                               #  marshal of 4 lists in the same order: address, index, key, before; marshal of
                               #  3 more: after, lowest, highest; int64 rows of accesses.MOVES, the same less
                               #  before, or b"" when too big: accesses.moves): the locations the lane only
                               #  added to
    log: bytes                 # int64 rows of accesses.WIDTH: the accesses the lane made, per location (b"" in
                               #  a window Lanes.checked says the lane checks)
    untrusted: int             # the first transaction that touched a location outside its lane's rows, or
                               #  touched one in a way they do not (in a window not checked: wrote one, its
                               #  wildcards' variables allowed; -1: none)
    changed: bytes             # int64 pairs (loc, the lane's first transaction of the window): the locations it
                               #  first wrote or added to in the block, not claimed before (``Replica._claims``)
    receipts: tuple            # (indices int64, digests blob): the window's receipts' digests (their
                               #  encodings come at the block's end, Finished.receipts)
    failures: list             # [(index, status, reason, at)] of the window's transactions that failed
    counts: tuple              # (ok, reverted, cost)
    seconds: float             # the lane's time on the window (and on messages without a reply before it)
    synced: float              # of which applying the other lanes' writes (every lane applies every other's)
    cpu: float                 # the lane's CPU time on the window (and on messages without a reply before it)


class Routed(NamedTuple):
    block: int
    blobs: list                # per lane: marshal (block indices int64 bytes, their calls, and their rows' tx
                               #  int64, loc int64, mode int8 and wild bool bytes) of this stripe's
                               #  transactions on that lane (b"" for the worker's own lane: it keeps them)
    seconds: float
    cpu: float


class Finished(NamedTuple):
    block: int
    root: int                  # the state accumulator's move by the locations the lane owns
    rows: bytes                # marshal: a state file's rows of those locations, {var: {key: value}} (store.Rows)
    writes: bytes              # marshal: their values after the block, {(address, index): {key: value}} (what the
                               #  parent defers instead of the lane's windows' writes: ``_Merge.coalesce``)
    receipts: bytes            # the lane's receipts, their encodings as a state file keeps them (encoding.part:
                               #  one Zstandard frame when big)
    seconds: float
    synced: float              # as WindowDone.synced
    cpu: float
    clash: bool = False        # two locations the block changed have one id (``Replica._clash``): the lanes'
                               #  moves, made per id, cannot be trusted (the parent runs the block)


class Rescheduled(NamedTuple):
    block: int
    txs: bytes                 # int64: the transactions instantiated again (positions in the stripe)
    rows: tuple                # as Scheduled.rows, for those transactions only
    sources: tuple
    stored: bytes
    seconds: float
    cpu: float


class Error(NamedTuple):
    block: int
    message: str               # a fault in the worker (a bug): the parent runs the block itself


class Progress(NamedTuple):
    block: int                 # a worker still at a long message of this block (its schedule), sent every
    done: int                  #  ``replica.PROGRESS_S`` or so: the parent waits on (transactions done so far)


KINDS: dict[int, type] = {k: t for k, t in enumerate(
    (Schedule, Reschedule, Lanes, Calls, Window, Cut, Finish, Scheduled, Rescheduled, Routed, WindowDone,
     Finished, Error, Peers, Progress, Sync), 1)}
_KIND_OF = {t: k for k, t in KINDS.items()}

# The fields whose bytes travel raw, after the header (each a bytes-like object, or a list or tuple of
# them): the bulk of a block's messages (rows, writes, logs, calls, digests), copied neither into the
# message nor out of it.  Unpacked, each is a memoryview of the message's bytes.
RAW: dict[type, tuple[str, ...]] = {
    Schedule: ("stripe",),
    Lanes: ("lanes", "fnids", "chunks"),
    Peers: ("calls", "rows"),
    Scheduled: ("fnids", "rows", "sources", "calls"),
    Rescheduled: ("rows", "sources"),
    Routed: ("blobs",),
    Calls: ("routed",),
    Window: ("sync", "fixups"),
    Finish: ("sync", "fixups"),
    Sync: ("sync",),
    WindowDone: ("writes", "log", "changed", "receipts"),
    Finished: ("rows", "writes"),
}
_RAW_AT = {t: tuple(t._fields.index(name) for name in names) for t, names in RAW.items()}
_HEADER = 4  # the header's length (little-endian), then the header, then the raw fields' bytes


def pack_parts(message: NamedTuple) -> list:
    """The message's bytes (:func:`pack`) as buffers to write one after the other: a transport
    writes each raw field as it is, from where it lies (a file's bytes, an array's, a reply's).

    The header is the marshal encoding of ``(kind, field, ..., sizes)``: each raw field there is
    None, and ``sizes`` holds its length (or its items' lengths, as a list or a tuple as the field
    is one); its bytes follow the header in the order of the fields."""
    kind = type(message)
    raw = _RAW_AT.get(kind, ())
    fields = list(message)
    bulk: list = []
    sizes: list = []
    for i in raw:
        value = fields[i]
        fields[i] = None
        if isinstance(value, (list, tuple)):
            items = [memoryview(v).cast("B") for v in value]
            bulk += items
            sizes.append(type(value)(map(len, items)))
        else:
            view = memoryview(value).cast("B")
            bulk.append(view)
            sizes.append(len(view))
    header = marshal.dumps((_KIND_OF[kind], *fields, tuple(sizes)))
    return [len(header).to_bytes(_HEADER, "little"), header, *bulk]


def pack(message: NamedTuple) -> bytes:
    """The message as one bytes object (a transport that carries bytes, as Dask's)."""
    return b"".join(pack_parts(message))


def joined(data: bytes | list) -> bytes:
    """A message as bytes, whether packed as parts (:func:`pack_parts`) or already whole."""
    return data if isinstance(data, (bytes, bytearray)) else b"".join(data)


def unpack(data) -> Any:
    """The message in ``data`` (bytes, a bytearray, a memoryview, or parts as :func:`pack_parts`
    makes them); its raw fields are views of it."""
    view = memoryview(joined(data) if isinstance(data, list) else data).cast("B")
    size = int.from_bytes(view[:_HEADER], "little")
    at = _HEADER + size
    got = marshal.loads(view[_HEADER:at])
    kind = KINDS[got[0]]
    fields = list(got[1:-1])
    for i, length in zip(_RAW_AT.get(kind, ()), got[-1]):
        if isinstance(length, int):
            fields[i] = view[at:at + length]
            at += length
            continue
        items = []
        for n in length:
            items.append(view[at:at + n])
            at += n
        fields[i] = type(length)(items)
    if at != len(view):
        raise ValueError(f"a {kind.__name__} message of {len(view)} bytes, {at} of them announced")
    return kind(*fields)
