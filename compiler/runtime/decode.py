"""Decoding a block at C speed: JSON Lines to columns ready to run (SPEC §3).

The reference decoder (:func:`compiler.runtime.block.parse_block_text`, then
:func:`compiler.runtime.block.prepare`) reads each line with ``json`` and
resolves it in Python, field by field.  This one decodes the whole file in one
msgspec call into small structs and resolves each transaction through an
*entry* made once per (contract, function) of the world: the compiled function,
and an argument decoder generated for its parameters (an ``int`` in range is a
u256, a known name is an address, ...).

Whatever the fast path cannot vouch for goes to the reference: a file that
msgspec does not decode as one object per line with exactly the fields
``from``, ``to``, ``fn`` and ``args`` (a malformed line, an unknown or missing
field, duplicate keys, a ``\\u`` escape, a lone surrogate, an integer too large
for msgspec), and any value the argument decoder does not recognise at once.
So both decoders give the same transactions and the same invalid reasons
(tests/test_decode.py checks it on random and malformed blocks).

Decoders work on bytes and know nothing of the process they run in: a worker
can decode a stripe of a block as well as the parent (``first_index``,
``first_line``).
"""

from __future__ import annotations

import re
from functools import partial
from itertools import chain, compress, islice, repeat
from operator import attrgetter, is_, itemgetter
from types import CodeType
from typing import Any, Callable

import msgspec
import numpy as np

from ..diagnostics import LaneError
from ..semantics import types as T
from ..vm.transaction import Tx, gc_paused
from .block import _prepare_one, parse_block_text
from .files import block_text
from .grouping import by_group
from .text_scan import lines_of
from ..schedule.vectorized import pick
from ..vm.values import U256_DIGITS, U256_MAX, ValueError_, parse_value
from .world import World


class _Line(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A transaction line as the fast path accepts it: these four fields, each once."""

    from_: str = msgspec.field(name="from")
    to: str
    fn: str
    args: list


_LINES = msgspec.json.Decoder(_Line)
_FROM, _TO, _FN, _ARGS = attrgetter("from_"), attrgetter("to"), attrgetter("fn"), attrgetter("args")
_KEYS = (b'"from"', b'"to"', b'"fn"', b'"args"')
_BAD_START = re.compile(rb"^[ \t\r]*[^{ \t\r\n]", re.M)
_BAD_END = re.compile(rb"[^} \t\r\n][ \t\r]*$", re.M)
_BLANK = re.compile(rb"^[ \t\r]*$", re.M)  # a blank line (the empty one after a final newline too)


_NEWLINE_CHUNK = 1 << 18  # bytes compared at a time, into one buffer (fresh memory for a whole block's
                         # comparison costs more in page faults than the comparison saves)


def count_newlines(data, start: int = 0, end: int | None = None) -> int:
    """``data.count(b"\n", start, end)`` by vectorised comparisons, a chunk at a time into one small
    buffer: half the time on a big block (``bytes.count`` of one byte tests them one at a time:
    1.6 ms for 50,000 lines; this, 0.8)."""
    column = np.frombuffer(data, np.uint8)[start:end]
    into = np.empty(min(_NEWLINE_CHUNK, len(column)), bool)
    total = 0
    for at in range(0, len(column), _NEWLINE_CHUNK):
        part = column[at:at + _NEWLINE_CHUNK]
        total += int(np.count_nonzero(np.equal(part, 10, out=into[:len(part)])))
    return total


DECODE_CHUNK = 1 << 18  # bytes of a block decoded at a time (whole lines: ``Decoder.decode``)


def _whole_lines(data: bytes, size: int) -> list[bytes]:
    """``data`` cut after the first newline at or past each ``size`` bytes (one part if it is not
    longer than twice that)."""
    if len(data) <= 2 * size:
        return [data]
    parts, at = [], 0
    while at < len(data):
        end = data.find(b"\n", at + size)
        end = len(data) if end < 0 or len(data) - end <= size else end + 1
        parts.append(data[at:end])
        at = end
    return parts


def _joined(parts: list[Block]) -> Block:
    """Blocks of consecutive lines as one (the first one's ``first``), their columns joined by C code."""
    first = parts[0]
    invalid = {p.first - first.first + k: tx for p in parts for k, tx in p.invalid.items()}  # (a few)

    def column(name: str) -> list:
        return list(chain.from_iterable(getattr(p, name) for p in parts))

    return Block(first.world, column("fns"), column("calls"), column("functions"), invalid, column("lines"),
                 first.first)


def _one_object_per_line(data: bytes) -> tuple[int, bool] | None:
    """The number of non-blank lines when every one starts with '{' and ends with '}', and whether
    no blank line comes before the last of them; else None.

    Then msgspec, which reads any whitespace-separated values, cannot see one object per line
    where the lines are laid out otherwise (two objects on one line and one split over two).
    A file as written by programs (``{...}`` lines, LF or CRLF) is recognised by counting; any
    other layout by two scans.
    """
    body = data.rstrip(b"\r\n")
    if body[:1] == b"{" and body[-1:] == b"}":
        newlines = count_newlines(body)  # (each scan of a big block's bytes costs milliseconds)
        for sep in (b"}\n{", b"}\r\n{"):
            if body.count(sep) == newlines:
                return newlines + 1, True
    if _BAD_START.search(data) or _BAD_END.search(data):
        return None
    return data.count(b"\n") + 1 - len(_BLANK.findall(data)), False


class Block:
    """A decoded block, as columns: what each transaction calls and with what.

    ``fns[i]`` is the compiled function of transaction i (None when it is invalid),
    ``calls[i]`` what it takes after the context, ``(to, sender, *args)``,
    ``functions[i]`` its :class:`~compiler.semantics.symbols.Function` (None when invalid),
    ``invalid`` the reference's transaction for each invalid one, by position (its reason in
    ``.invalid``), ``first`` the block index of the first transaction (a stripe's is not 0),
    ``lines[i]`` the line of the file transaction i was on.
    """

    __slots__ = ("world", "fns", "calls", "functions", "invalid", "lines", "first", "_txs")

    def __init__(self, world: World, fns: list, calls: list, functions: list, invalid: dict[int, Tx],
                 lines: list[int], first: int = 0) -> None:
        self.world = world
        self.first = first
        self.fns = fns
        self.calls = calls
        self.functions = functions
        self.invalid = invalid
        self.lines = lines
        self._txs: list[Tx] | None = None

    @classmethod
    def of_txs(cls, world: World, txs: list[Tx]) -> "Block":
        """A block of transactions prepared by the reference (:func:`compiler.runtime.block.prepare`)."""
        block = cls(world, [tx.fn for tx in txs], [tx.call if tx.fn is not None else () for tx in txs],
                    [tx.function if tx.fn is not None else None for tx in txs],
                    {k: tx for k, tx in enumerate(txs) if tx.fn is None}, [tx.line for tx in txs])
        block._txs = list(txs)
        return block

    def __len__(self) -> int:
        return len(self.fns)

    def reason(self, i: int) -> str | None:
        tx = self.invalid.get(i)
        return tx.invalid if tx is not None else None

    def txs(self) -> list[Tx]:
        """The transactions as :class:`~compiler.runtime.block.Tx` objects (the scheduler's and
        the soundness checker's view), made on first use."""
        if self._txs is None:
            by_address, invalid, lines, first = self.world.by_address, self.invalid, self.lines, self.first
            with gc_paused():
                self._txs = [
                    invalid[i] if fn is None else
                    Tx(first + i, lines[i], call[1], call[0], by_address[call[0]], function, fn, call[2:])
                    for i, (fn, call, function) in enumerate(zip(self.fns, self.calls, self.functions))]
        return self._txs


class Entry:
    """One (contract instance, pub function): what a transaction calling it runs.

    ``resolve(line)`` reads a :class:`_Line` calling it: the call tuple ``(to, sender, *args)``,
    or None when the reference must read the line (it says what is wrong, if anything).
    ``columns(tos, senders, argss)`` reads many calls of its function at once, at any instances
    (:func:`column_reader`, one per function: shared by every instance of its contract).
    """

    __slots__ = ("to", "fn", "function", "resolve", "columns")

    def __init__(self, to: int, fn: Callable, function, resolve: Callable, columns: Callable) -> None:
        self.to, self.fn, self.function, self.resolve, self.columns = to, fn, function, resolve, columns


_BAD = object()
_NO_FNS: dict = {}  # (a ``to`` not seen before: none of its functions looked up yet)
_UNSEEN = object()  # (a (to, fn) pair not looked up yet)


class Decoder:
    """The fast decoder of one world (entries are made on first use)."""

    def __init__(self, world: World, trace: bool = False) -> None:
        self.world = world
        self.trace = trace
        self.entries: dict[tuple[str, str], Entry] = {}
        self._by_to: dict[str, dict[str, Entry | None]] = {}  # to -> fn -> its entry, None: none (looked up once)
        self._resolvers: dict[Any, Callable] = {}  # (address, function) -> its call reader
        self._columns: dict[Any, Callable] = {}    # function -> its column reader

    # ------------------------------------------------------------ the file
    def decode(self, data: bytes, display: str, first_index: int = 0, first_line: int = 1) -> Block:
        """Decode a block file's bytes (or a stripe of whole lines of it): ``DECODE_CHUNK`` bytes of
        whole lines at a time, each decoded and resolved before the next (the structs a chunk's
        lines are read into are freed, and their memory is the next chunk's: a whole block's at
        once cost a fresh process a page fault every few lines: 100,000 transfers 137-140 ms and
        18,000 faults, against 122-125 ms and 6,700 in chunks); a chunk whose lines are not all
        plain calls by the reference (:meth:`_chunk_reference`), or the whole file when the
        reference finds an error in it (the whole file's reference says where and why)."""
        with gc_paused():
            parts: list[Block] = []
            index, line = first_index, first_line
            chunks = _whole_lines(data, DECODE_CHUNK)
            for chunk in chunks:
                part = self._fast_block(chunk, index, line)
                if part is None:
                    part = self._chunk_reference(chunk, display, index, line) if len(chunks) > 1 else None
                    if part is None:
                        return self._reference(data, display, first_index, first_line)
                parts.append(part)
                index += len(part)
                line += chunk.count(b"\n")
            return parts[0] if len(parts) == 1 else _joined(parts)

    def _fast_block(self, data: bytes, first_index: int, first_line: int) -> Block | None:
        """Whole lines decoded by the fast path, or None when it cannot vouch for every one."""
        fast = self._fast_lines(data)
        if fast is None:
            return None
        objs, dense = fast
        if not dense and data.rstrip(b" \t\r\n").count(b"\n") + 1 != len(objs):  # blank lines before the end
            lines = [first_line + k for k, raw in enumerate(data.split(b"\n")) if raw.strip(b" \t\r")]
        else:
            lines = list(range(first_line, first_line + len(objs)))
        return self._resolve_columns(objs, lines, first_index)

    def _fast_lines(self, data: bytes) -> tuple[list, bool] | None:
        """The lines as structs when the fast path can vouch for every one of them, and whether no
        blank line comes before the last; else None."""
        layout = _one_object_per_line(data)
        # (A lone '\r' ends a line, as in a text file read in text mode.  Each single byte is looked
        # for first, by memchr: most files have neither, and each longer scan costs milliseconds.)
        if layout is None or (b"\\" in data and b"\\u" in data) or \
                (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
            return None
        try:
            objs = _LINES.decode_lines(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # (the last: nested too deep)
            return None
        n = len(objs)
        lines, dense = layout
        # Each struct had each key at least once; no key more than once in the whole file means
        # exactly once per line (a value spelled like a key only sends the file to the reference).
        # Cheaper where it holds (one scan, not four): every key is followed by a colon, and a
        # colon elsewhere is inside a string or a nested object; each of the n lines has its 4 keys,
        # so 4n colons in all leave none for a fifth key, or for anything else.
        if n != lines or (data.count(b":") != 4 * n and any(data.count(key) != n for key in _KEYS)):
            return None
        return objs, dense

    def _chunk_reference(self, chunk: bytes, display: str, first_index: int, first_line: int) -> Block | None:
        """A chunk the fast path cannot vouch for, read by the reference alone, the other chunks
        by the fast path (one odd line among 100,000 transfers sent the whole block to the
        reference: its decoding 0.15 -> 0.46 s); None when the reference finds an error of the file
        in it, or when a lone '\\r' ends a line (the reference counts it as a line's end, the
        chunks' numbering does not): the whole file's reference then."""
        if chunk.count(b"\r") != chunk.count(b"\r\n"):
            return None
        try:
            return self._reference(chunk, display, first_index, first_line)
        except LaneError:
            return None

    def _reference(self, data: bytes, display: str, first_index: int, first_line: int) -> Block:
        """The reference's reading of the lines (errors and all), then each object resolved."""
        text = block_text(data, display)
        objs: list = []
        lines: list[int] = []
        for no, obj in parse_block_text(text, display):
            lines.append(no + first_line - 1)
            if type(obj) is dict and len(obj) == 4 and all(type(obj.get(k)) is str for k in ("from", "to", "fn")) \
                    and type(obj.get("args")) is list:
                obj = _Line(obj["from"], obj["to"], obj["fn"], obj["args"])
            objs.append(obj)
        return self._resolve(objs, lines, first_index)

    def _resolve_columns(self, structs: list, lines: list[int], first_index: int) -> Block:
        """The fast path's structs resolved a column at a time: the (to, fn) pairs to entries, the
        senders to addresses, then the arguments of each function's transactions (at whatever
        instances) through its column reader (:func:`column_reader`), in C code but for one call per
        function: a block over a thousand tokens makes a thousand entries, not a thousand groups.
        Rows a column reader cannot vouch for are resolved one by one, as :meth:`_resolve` does."""
        n = len(structs)
        # Each line's entry by its (to, fn): two dict lookups by C code, the pairs not seen before
        # (each block's first lines, once a process) found first.
        tos, fns, by_to = list(map(_TO, structs)), list(map(_FN, structs)), self._by_to
        entries = list(map(dict.get, map(by_to.get, tos, repeat(_NO_FNS)), fns, repeat(_UNSEEN)))
        if any(map(is_, entries, repeat(_UNSEEN))):
            unseen = list(compress(range(n), map(is_, entries, repeat(_UNSEEN))))
            for to, fn in set(zip(pick(tos, unseen), pick(fns, unseen))):
                by_to.setdefault(to, {})[fn] = self._entry(to, fn)
            entries = list(map(dict.get, map(by_to.get, tos), fns))
        senders = self.world.addresses(list(map(_FROM, structs)))  # (None: the reference reads it)
        argss = list(map(_ARGS, structs))
        rows: list[int] = []   # the rows left to resolve one by one
        distinct = set(entries)
        # (each entry's function, its group, and its instance's address: dicts over the distinct
        # entries, looked up by C code)
        function_of = {e: e.function if e is not None else None for e in distinct}
        to_of = {e: e.to if e is not None else None for e in distinct}
        columns_of = {e.function: e.columns for e in distinct if e is not None}

        def reader(function):
            def read(idx: list[int]) -> list:
                whole = len(idx) == n  # (then idx is every row, in order)
                got = None
                if function is not None:
                    tos = list(map(to_of.__getitem__, entries if whole else pick(entries, idx)))
                    got = columns_of[function](tos, senders if whole else pick(senders, idx),
                                               argss if whole else pick(argss, idx))
                if got is None:
                    rows.extend(idx)
                    return [()] * len(idx)
                return got
            return read

        functions = list(map(function_of.__getitem__, entries))
        calls = by_group(functions, list(range(n)), reader)
        if len(distinct) == 1 and not rows:
            entry = entries[0]
            return Block(self.world, [entry.fn] * n, calls, functions, {}, lines, first_index)
        fns = list(map({e: e.fn if e is not None else None for e in distinct}.__getitem__, entries))
        invalid: dict[int, Tx] = {}
        for k in sorted(rows):
            o = structs[k]
            entry = entries[k]
            call = entry.resolve(o) if entry is not None else None
            if call is not None:
                calls[k] = call
                continue
            tx = _prepare_one(self.world, first_index + k, lines[k],
                              {"from": o.from_, "to": o.to, "fn": o.fn, "args": o.args}, self.trace)
            if tx.fn is None:
                invalid[k] = tx
                fns[k] = functions[k] = None
            else:  # the reference reads what the fast path did not recognise
                fns[k], calls[k], functions[k] = tx.fn, tx.call, tx.function
        return Block(self.world, fns, calls, functions, invalid, lines, first_index)

    def _resolve(self, objs: list, lines: list[int], first_index: int) -> Block:
        """Each line's call through its entry; what an entry cannot read, through the reference."""
        get = self.entries.get
        entries: list = []
        calls: list = []
        add_entry, add_call = entries.append, calls.append
        slow: list[int] = []
        for k, o in enumerate(objs):
            if type(o) is _Line:
                entry = get((o.to, o.fn)) or self._entry(o.to, o.fn)
                call = entry.resolve(o) if entry is not None else None
                if call is not None:
                    add_entry(entry)
                    add_call(call)
                    continue
            slow.append(k)
            add_entry(None)
            add_call(())
        fns = [e.fn if e is not None else None for e in entries]
        functions = [e.function if e is not None else None for e in entries]
        invalid: dict[int, Tx] = {}
        for k in slow:
            o = objs[k]
            if type(o) is _Line:
                o = {"from": o.from_, "to": o.to, "fn": o.fn, "args": o.args}
            tx = _prepare_one(self.world, first_index + k, lines[k], o, self.trace)
            if tx.fn is None:
                invalid[k] = tx
            else:  # the reference reads what the fast path did not recognise
                fns[k], calls[k], functions[k] = tx.fn, tx.call, tx.function
        return Block(self.world, fns, calls, functions, invalid, lines, first_index)

    # ------------------------------------------------------------ entries
    def _entry(self, to: str, fn_name: str) -> Entry | None:
        """The entry of (to, fn) as written in a block, or None when the reference must say why not."""
        try:
            address = self.world.parse_address(to)
        except ValueError_:
            return None
        inst = self.world.by_address.get(address)
        function = inst.contract.functions.get(fn_name) if inst is not None else None
        if function is None or not function.is_pub:
            return None
        program = inst.data.traced if self.trace else inst.program
        key = (address, function)
        resolve = self._resolvers.get(key)
        if resolve is None:
            resolve = self._resolvers[key] = call_reader(function, address, self.world)
        columns = self._columns.get(function)
        if columns is None:
            columns = self._columns[function] = column_reader(function, self.world)
        entry = self.entries[(to, fn_name)] = Entry(address, program.function(inst.contract.name, fn_name),
                                                    function, resolve, columns)
        return entry


_READER_CODE: dict[str, CodeType] = {}  # a call reader's code, by its source (compiled once a process)


def call_reader(function, to: int, world: World) -> Callable[[_Line], tuple | None]:
    """A function reading a :class:`_Line` that calls ``function`` at ``to``: the call tuple
    ``(to, sender, *args)``, or None when the reference must read it (it says what is wrong,
    if anything).

    The common cases are tested inline (a name already seen for an address, an ``int`` in range
    for a u256, a JSON boolean); anything else goes through :func:`parse_value`."""
    params = function.params

    def slow(ty: T.Type, raw: Any) -> Any:
        try:
            return parse_value(ty, raw, world.parse_address)
        except ValueError_:
            return _BAD

    def address(raw: str) -> Any:
        try:
            return world.parse_address(raw)
        except ValueError_:
            return _BAD

    env: dict[str, Any] = {"MAX": U256_MAX, "slow": slow, "address": address, "BAD": _BAD,
                           "names_get": world._addresses.get, "TO": to}
    body = ["def resolve(o):",
            "    s = names_get(o.from_) or address(o.from_)",
            "    if s is BAD:", "        return None",
            "    a = o.args",
            f"    if len(a) != {len(params)}:", "        return None"]
    for i, p in enumerate(params):
        ty = f"T{i}"
        env[ty] = p.type
        x = f"x{i}"
        body.append(f"    {x} = a[{i}]")
        if p.type is T.U256:
            body.append(f"    if type({x}) is not int or {x} < 0 or {x} > MAX:")
            body.append(f"        {x} = slow({ty}, {x})")
        elif p.type is T.BOOL:
            body.append(f"    if {x} is not True and {x} is not False:")
            body.append(f"        {x} = slow({ty}, {x})")
        elif p.type is T.ADDRESS or isinstance(p.type, T.ContractType):
            body.append(f"    {x} = (names_get({x}) if type({x}) is str else None) or slow({ty}, {x})")
        elif isinstance(p.type, T.ArrayType) and _kind(p.type.elem) is not None:
            env[f"A{i}"] = partial(_arrays, p.type, world.addresses)
            body.append(f"    {x} = A{i}([{x}])")
            body.append(f"    {x} = {x}[0] if {x} is not None else slow({ty}, a[{i}])")
        else:
            body.append(f"    {x} = slow({ty}, {x})")
        body.append(f"    if {x} is BAD:")
        body.append("        return None")
    body.append("    return (TO, s, " + "".join(f"x{i}, " for i in range(len(params))) + ")")
    source = "\n".join(body) + "\n"
    code = _READER_CODE.get(source)
    if code is None:  # (the same for every function of these parameters' kinds, at any address)
        code = _READER_CODE[source] = compile(source, "<lane-call>", "exec")
    exec(code, env)
    return env["resolve"]


def column_reader(function, world: World) -> Callable[[list, list, list], list | None]:
    """A function reading the instances' addresses, the senders and the ``args`` lists of many
    transactions calling ``function`` a column at a time, in C code: the list of call tuples, or
    None when some value is not of the common kinds (then each row is read by :func:`call_reader`).

    A column is accepted whole or not at all: addresses all names or hex already known to the
    world's cache (new ones are read first, once each), u256s all ``int`` within range (or all
    plain decimal or all hex text: :func:`_u256_texts`), booleans all JSON booleans; arrays of
    those all lists within the bound (:func:`_arrays`).  Other parameter types always go row by
    row."""
    params = function.params
    n_params = len(params)
    getters = [itemgetter(i) for i in range(n_params)]
    kinds = []
    for p in params:
        kind = _kind(p.type)
        if kind is None and isinstance(p.type, T.ArrayType) and _kind(p.type.elem) is not None:
            kind = partial(_arrays, p.type, world.addresses)
        if kind is None:
            return lambda tos, senders, argss: None
        kinds.append(kind)

    def columns(tos: list, senders: list, argss: list) -> list | None:
        if None in senders or set(map(len, argss)) != {n_params}:
            return None
        cols = []
        for get, kind in zip(getters, kinds):
            col = list(map(get, argss))
            col = _common(kind, col, world.addresses) if type(kind) is str else kind(col)  # (else: arrays)
            if col is None:  # (not all of the common kind: the reference says what is wrong, if anything)
                return None
            cols.append(col)
        return list(zip(tos, senders, *cols))

    return columns


def _kind(ty: T.Type) -> str | None:
    """The common kind of a value of ``ty`` that columns are read as ("u256", "bool" or "address"), or None."""
    if ty is T.U256:
        return "u256"
    if ty is T.BOOL:
        return "bool"
    return "address" if ty is T.ADDRESS or isinstance(ty, T.ContractType) else None


def _common(kind: str, values: list, addresses: Callable[[list], list]) -> list | None:
    """``values`` (at least one) as read when all are of the common ``kind``: an ``int`` in range, a
    JSON boolean, an address the world knows or can derive (resolved in one call); else None."""
    kinds = set(map(type, values))
    if kind == "address":
        if kinds != {str}:
            return None
        values = addresses(values)
        return None if any(map(is_, values, repeat(None))) else values
    if kind == "u256":
        if kinds == {str}:  # (amounts written as text, as JSON-RPC writes them)
            return _u256_texts(values)
        return values if kinds == {int} and min(values) >= 0 and max(values) <= U256_MAX else None
    return values if kinds == {bool} else None


_DECIMALS = re.compile(r"[0-9]{1,%d}(?:\n[0-9]{1,%d})*" % (U256_DIGITS, U256_DIGITS))
_HEXES = re.compile(r"0[xX][0-9a-fA-F]{1,64}(?:\n0[xX][0-9a-fA-F]{1,64})*")


def _u256_texts(values: list[str]) -> list[int] | None:
    """u256s written as text, as the reference reads them (:func:`compiler.vm.values.parse_value`)
    when all are plain decimal digits (no '_') or all 0x hex of at most 64 digits: the column
    matched at once by a regular expression, each converted by ``int``, both C code; else None."""
    joined = lines_of(values)
    if joined is None:
        return None
    if _DECIMALS.fullmatch(joined):
        got = list(map(int, values))
        return got if max(got) <= U256_MAX else None
    if _HEXES.fullmatch(joined):
        return list(map(int, values, repeat(16)))
    return None


def _arrays(ty: T.ArrayType, addresses: Callable[[list], list], col: list) -> list | None:
    """The values of a column of ``ty`` (each a JSON array) as the reference reads them, tuples, in
    C code but for a call per row; None (then each row is read apart) unless each is a list of at
    most ``ty.size`` elements, all of the common kind of the element type (:func:`_common`)."""
    if set(map(type, col)) != {list} or max(map(len, col)) > ty.size:
        return None
    flat = list(chain.from_iterable(col))
    if not flat:
        return [()] * len(col)
    flat = _common(_kind(ty.elem), flat, addresses)
    if flat is None:
        return None
    at = iter(flat)
    return [tuple(islice(at, k)) for k in map(len, col)]
