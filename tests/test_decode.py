"""The fast block decoder against the reference (json, then prepare), on random and malformed blocks:
the same transactions, the same invalid reasons, the same errors for a malformed file."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.diagnostics import LaneError
from compiler.runtime import decode
from compiler.runtime.block import parse_block_text, prepare
from compiler.runtime.chain import Chain
from compiler.runtime.decode import Decoder, count_newlines
from compiler.runtime.files import block_text
from fuzzing import fuzz_settings
from test_schedule_props import DEMO

HUGE = "<a JSON number of 4,400 digits>"  # json.dumps cannot write it: put in the text afterwards
NAMES = ["alice", "bob", "carol", "usdc", "dai", "weth_usdc", "nobody", "0x" + "ab" * 20, "0x12", "0xzz", "",
         " bob", "b\u2028b", "\ud800"]
FUNCTIONS = ["transfer", "approve", "swap", "balance_of", "mint", "nothing", "_internal", "init", ""]
VALUES = st.one_of(
    st.integers(-2, 2**256 + 2), st.sampled_from([2**256 - 1, HUGE, 0]), st.sampled_from(NAMES),
    st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1_000", "0x10", "٣", " 5 ", "12", str(2**256), "1" * 5000]),
    st.lists(st.sampled_from(NAMES + [1, 2, True]), max_size=4))


@st.composite
def lines(draw) -> str:
    """One line of a block: usually a transaction, sometimes a mangled one or not JSON at all."""
    kind = draw(st.sampled_from(["tx", "tx", "tx", "tx", "odd", "raw", "blank"]))
    if kind == "blank":
        return draw(st.sampled_from(["", "  ", "\t", "\r"]))
    if kind == "raw":
        return draw(st.sampled_from(['{"from": "alice"', "[1, 2]", "42", '{"a": 1} {"b": 2}', "null", '"x"',
                                     '{"from": "a\\ud800", "to": "usdc", "fn": "transfer", "args": []}',
                                     '{"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 1]}\x0b',
                                     '{"t\\u006f": "usdc", "from": "bob", "fn": "transfer", "args": ["bob", 1]}']))
    tx = {"from": draw(st.sampled_from(NAMES)), "to": draw(st.sampled_from(NAMES)),
          "fn": draw(st.sampled_from(FUNCTIONS)), "args": draw(st.lists(VALUES, max_size=4))}
    if kind == "odd":
        change = draw(st.sampled_from(["drop", "extra", "type", "dup"]))
        key = draw(st.sampled_from(sorted(tx)))
        if change == "drop":
            del tx[key]
        elif change == "extra":
            tx["gas"] = 1
        elif change == "type":
            tx[key] = draw(VALUES)
        else:
            text = json.dumps(tx)
            return _huge(text[:-1] + f', "{key}": {json.dumps(tx[key])}' + "}")
    return _huge(json.dumps(tx, ensure_ascii=draw(st.booleans())))


def _huge(text: str) -> str:
    return text.replace(json.dumps(HUGE), "1" * 4400)


@pytest.fixture(scope="module")
def world():
    return Chain.open(DEMO / "world.toml").world


def reference(world, data: bytes):
    try:
        return [(tx.index, tx.line, tx.sender, tx.to, tx.function, tx.fn, tx.args, tx.invalid)
                for tx in prepare(world, parse_block_text(block_text(data, "b.jsonl"), "b.jsonl"))]
    except LaneError as err:
        return str(err)


def fast(world, data: bytes):
    try:
        return [(tx.index, tx.line, tx.sender, tx.to, tx.function, tx.fn, tx.args, tx.invalid)
                for tx in Decoder(world).decode(data, "b.jsonl").txs()]
    except LaneError as err:
        return str(err)


@fuzz_settings(300)
@given(st.lists(lines(), max_size=12), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_fast_decoder_equals_the_reference(world, body, newline, final):
    data = (newline.join(body) + (newline if final else "")).encode("utf-8", "surrogatepass")
    assert fast(world, data) == reference(world, data)


@fuzz_settings(300)
@given(st.lists(lines(), max_size=12), st.sampled_from(["\n", "\r\n"]), st.booleans(), st.integers(1, 120))
def test_a_block_decoded_in_chunks_equals_the_reference(world, body, newline, final, chunk):
    """``Decoder.decode`` cuts a big block into chunks of whole lines (``DECODE_CHUNK`` bytes): cut
    anywhere (a chunk of one line, of several, blank lines and invalid ones among them), the block is
    the reference's, line numbers, indices and errors included."""
    data = (newline.join(body) + (newline if final else "")).encode("utf-8", "surrogatepass")
    with mock.patch.object(decode, "DECODE_CHUNK", chunk):
        assert fast(world, data) == reference(world, data)


def test_fast_path_on_a_clean_block_and_its_line_numbers(world):
    tx = {"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 5]}
    data = ("\n".join([json.dumps(tx)] * 3) + "\n\n" + json.dumps(tx) + "\n").encode()
    block = Decoder(world).decode(data, "b.jsonl")
    assert block.lines == [1, 2, 3, 5]
    assert block.invalid == {}
    assert fast(world, data) == reference(world, data)


@pytest.mark.parametrize("lines", [
    # a key spaced from its colon beside a line with a key twice: as many colons as four keys a line
    ['{"from" : "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 5]}',
     '{"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 5], "fn": "approve"}'],
    ['{"from": "alice", "to": "usdc", "fn": "transfer", "args": ["b:b", 5]}',
     '{"from": "alice", "to": "usdc", "fn": "transfer", "fn": "approve", "args": ["bob", 5]}'],
    ['{"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 5]}',
     '{"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob:", 5]}'],
])
def test_a_key_twice_is_found_whatever_the_colons_around_it(world, lines):
    data = "\n".join(lines).encode()
    assert fast(world, data) == reference(world, data)


def test_a_malformed_line_is_the_files_error(world):
    data = b'{"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 5]}\n{"from": \n'
    assert fast(world, data) == reference(world, data)
    assert fast(world, data).startswith("invalid JSON")


def test_an_odd_line_sends_its_chunk_alone_to_the_reference(world):
    """One line the fast path cannot vouch for (a field too many, a transaction missing one) among
    many: its chunk is read by the reference, the other chunks by the fast path, and the block is
    the reference's."""
    tx = {"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", 5]}
    rows = [json.dumps(tx)] * 60
    rows[31] = json.dumps({**tx, "gas": 1})
    rows[47] = json.dumps({k: v for k, v in tx.items() if k != "to"})
    data = ("\n".join(rows) + "\n").encode()
    read = []
    original = Decoder._reference

    def spy(self, part, *args):
        read.append(len(part))
        return original(self, part, *args)

    with mock.patch.object(decode, "DECODE_CHUNK", 400), mock.patch.object(Decoder, "_reference", spy):
        got = fast(world, data)
    assert got == reference(world, data)
    assert [t[7] is not None for t in got].count(True) == 2  # (the odd lines: invalid transactions)
    assert len(read) == 2 and sum(read) < len(data) / 4  # (their two chunks, not the whole block)


@pytest.mark.parametrize("amounts", [
    ["764", "0", "007", str(2**256 - 1)],                 # decimal text, as JSON-RPC writes amounts
    ["0x2fc", "0X0", "0x" + "f" * 64],                     # hex text
    ["764", "0x2fc"], ["1_000", "5"], [" 5", "6"], ["\u0663", "1"], ["+5", "1"], ["12\n34", "1"],
    [str(2**256), "1"], ["0" * 80 + "5", "1"], ["0x" + "0" * 65 + "1", "0x1"], ["", "1"], ["-1", "1"],
    ["5", 6], ["5", True],
])
def test_amounts_written_as_text_are_read_as_the_reference_reads_them(world, amounts):
    """A column of u256s written as text is read at once when all are plain decimal or all 0x hex
    (``_u256_texts``); any other column row by row, as the reference reads it (errors included)."""
    rows = [json.dumps({"from": "alice", "to": "usdc", "fn": "transfer", "args": ["bob", a]}) for a in amounts]
    data = ("\n".join(rows) + "\n").encode()
    assert fast(world, data) == reference(world, data)
    if all(isinstance(a, str) for a in amounts):
        decimal = all(a.isascii() and a.isdigit() and len(a) <= 78 for a in amounts)
        hexes = all(a[:2] in ("0x", "0X") and 0 < len(a) - 2 <= 64 for a in amounts)
        at_once = (decimal or hexes) and all(int(a, 16 if hexes else 10) < 2**256 for a in amounts)
        assert decode._u256_texts(amounts) == ([int(a, 16 if hexes else 10) for a in amounts] if at_once else None)


def test_addresses_learned_in_bulk_are_those_read_one_by_one():
    from compiler.runtime.world import load_world
    from compiler.vm.values import ValueError_, derive_address, derive_addresses

    names = ["u0", "u1", "alice_2", "x.y-z", "Z"]
    assert derive_addresses(names) == [derive_address(n) for n in names]
    assert derive_addresses(names, "contract") == [derive_address(n, "contract") for n in names]
    bulk, single = load_world(DEMO / "world.toml"), load_world(DEMO / "world.toml")
    texts = ["u7", "alice", "usdc", "0x00000000000000000000000000000000000000ab", "0xZZ", "not a name", "", "u7"]
    hexes = ["0x" + "ab" * 20, "0XAB", "0x1", "0x" + "1" * 41, "0x_1", "0x1_2", "0x", "0x1\n0x2", "0x" + "f" * 40]
    bulk.learn_addresses(texts)
    good = hexes[:3] + hexes[-1:]
    for some in [good] + [good + [bad] for bad in hexes[3:-1]]:  # (all addresses: read at once; one odd: one by one)
        fresh = load_world(DEMO / "world.toml")
        fresh.learn_addresses(some)
        for text in some:
            try:
                expected = single.parse_address(text)
            except ValueError_:
                assert text not in fresh._addresses
                continue
            assert fresh._addresses[text] == expected
    for text in texts:
        try:
            expected = single.parse_address(text)
        except Exception:  # noqa: BLE001 - not an address: the bulk read leaves it out
            assert text not in bulk._addresses
            continue
        assert bulk._addresses[text] == expected


def test_calls_of_one_function_at_many_instances_are_read_as_one_column(world):
    """Transfers at the four tokens of the demo (one contract deployed four times), some rows odd:
    one column reader for the function, every call where the reference puts it."""
    tokens = ["usdc", "dai", "weth", "gov"]
    rows = [{"from": "alice", "to": tokens[k % 4], "fn": "transfer", "args": ["bob", k]} for k in range(40)]
    rows[13]["args"] = ["bob", "13"]       # (text: the column of the four instances' calls still at once)
    rows[22]["args"] = ["bob", -1]         # (out of range: that function's column row by row)
    rows[31] = {"from": "alice", "to": "dai", "fn": "approve", "args": ["bob", 3]}
    data = ("\n".join(map(json.dumps, rows)) + "\n").encode()
    decoder = Decoder(world)
    got = [(tx.index, tx.line, tx.sender, tx.to, tx.function, tx.fn, tx.args, tx.invalid)
           for tx in decoder.decode(data, "b.jsonl").txs()]
    assert got == reference(world, data)
    assert len({id(e.columns) for e in decoder.entries.values() if e is not None}) == 2  # (transfer, approve)
    assert len({e.to for e in decoder.entries.values() if e is not None}) == 4


def test_learning_a_few_addresses_does_not_pass_over_the_whole_cache():
    """Each column of a chunk learns the addresses the cache lacks (a block over a thousand instances:
    5,000 columns of 20 rows): a pass over the whole cache each time made such a block's decoding 1.1 s
    instead of 0.1."""
    from compiler.runtime.world import load_world

    class Unwalkable(dict):
        def __iter__(self):
            raise AssertionError("the cache was walked")

        def keys(self):
            raise AssertionError("the cache was walked")

    world = load_world(DEMO / "world.toml")
    world._addresses = Unwalkable(world._addresses)
    world._addresses.update((f"u{i}", i) for i in range(1000))
    world.learn_addresses(["u1", "u5000", "0x12", "alice", "bob", "not a name"])
    assert world._addresses["u5000"] == load_world(DEMO / "world.toml").parse_address("u5000")
    assert world._addresses["0x12"] == 0x12 and "not a name" not in world._addresses


@given(st.binary(max_size=200), st.integers(0, 210), st.one_of(st.none(), st.integers(0, 210)))
def test_newlines_are_counted_as_bytes_count_counts_them(data, start, end):
    from compiler.runtime import decode

    whole = decode._NEWLINE_CHUNK
    try:
        for chunk in (7, whole):  # (chunks that split the data, and one that holds it)
            decode._NEWLINE_CHUNK = chunk
            assert count_newlines(data, start, end) == data.count(b"\n", start, len(data) if end is None else end)
    finally:
        decode._NEWLINE_CHUNK = whole


ELEMENTS = st.one_of(st.integers(0, 2**64), st.sampled_from(NAMES[:6] + [2**256 - 1, 2**256, -1, True, "7", None]))


@st.composite
def array_lines(draw) -> str:
    """A call of a function with array parameters (the Splitter's and the oracle's): its arrays
    mostly lists of one common kind within their bound, sometimes too long or with an odd element."""
    def array(kind: str, size: int):
        common = st.integers(0, 2**256 - 1) if kind == "u256" else st.sampled_from(NAMES[:6] + ["u1", "u2"])
        got = draw(st.lists(common, max_size=size + draw(st.sampled_from([0, 0, 0, 1]))))
        if got and draw(st.integers(0, 4)) == 0:
            got[draw(st.integers(0, len(got) - 1))] = draw(ELEMENTS)
        return got if draw(st.integers(0, 20)) else draw(VALUES)
    fn = draw(st.sampled_from(["split", "preview", "set_prices"]))
    if fn == "set_prices":
        to, args = "oracle", [array("address", 8), array("u256", 8)]
    else:
        to, args = "splitter", ["usdc", array("address", 16), array("u256", 16), draw(st.integers(0, 10**6))]
        args += ["bob"] if fn == "preview" else []
    return json.dumps({"from": draw(st.sampled_from(["alice", "bob", "u3"])), "to": to, "fn": fn, "args": args})


@fuzz_settings(300)
@given(st.lists(array_lines(), min_size=1, max_size=12))
def test_arrays_decoded_by_columns_and_rows_as_the_reference_reads_them(world, body):
    data = "\n".join(body).encode()
    assert fast(world, data) == reference(world, data)


def test_a_clean_column_of_arrays_is_read_in_bulk(world):
    from compiler.runtime.decode import column_reader

    inst = world.instances["splitter"]
    function = inst.contract.functions["split"]
    argss = [["usdc", ["bob", "carol", "u9"], [5, 3, 2**256 - 1], 10], ["dai", [], [], 0]]
    senders = world.addresses(["alice", "bob"])
    got = column_reader(function, world)([inst.address] * 2, senders, argss)
    assert got is not None  # (read whole, not row by row)
    usdc, dai, bob, carol, u9 = world.addresses(["usdc", "dai", "bob", "carol", "u9"])
    assert got == [(inst.address, senders[0], usdc, (bob, carol, u9), (5, 3, 2**256 - 1), 10),
                   (inst.address, senders[1], dai, (), (), 0)]
    for odd in ([5, True], [5, -1], [5, 2**256], list(range(17))):  # (then row by row: the reference says)
        assert column_reader(function, world)([inst.address], senders[:1], [argss[0][:2] + [odd, 1]]) is None
    data = "\n".join(json.dumps({"from": "alice", "to": "splitter", "fn": "split", "args": a}) for a in argss).encode()
    assert fast(world, data) == reference(world, data)
