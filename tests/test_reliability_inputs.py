"""Worlds, blocks, values and the command line never crash and never misread (SPEC §3, §5).

Each case was once an internal error, a silent misreading or a quadratic load; each is now a
clear error naming file:line (exit 1), a usage error (exit 2), or the right result.
"""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from compiler.cli import MAX_WORKERS, app
from compiler.diagnostics import LaneError
from compiler.runtime import world as world_module
from compiler.runtime.block import JsonError, decode_json, parse_block_text, prepare
from compiler.runtime.chain import Chain
from compiler.runtime.store import StateStore
from compiler.runtime.text_scan import MAX_NESTING
from compiler.vm.values import derive_address, shown
from compiler.runtime.world import genesis, load_world
from runtime_helpers import ALICE, TOKEN, make_world, run_block, token_world, tx, write_block

BIG = "9" * 5000  # beyond CPython's 4,300-digit limit on converting decimal text to int


def lane(*args, charset: str = "utf-8") -> tuple[int, str, str]:
    """``lane ARGS`` in process: (exit status, stdout, stderr); never a traceback."""
    result = CliRunner(charset=charset).invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


def world_error(tmp_path, text: str) -> tuple[str, int | None, int | None]:
    """Load a world of ``text`` (beside token.lane) that must fail: (message, line, column)."""
    (tmp_path / "token.lane").write_text(TOKEN, encoding="utf-8")
    path = tmp_path / "world.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LaneError) as info:
        genesis(load_world(path))
    diag = info.value.diagnostics[0]
    loc = diag.location
    return diag.message, loc.line if loc else None, loc.column if loc else None


DEPLOY = '[[deploy]]\nname = "usdc"\nsource = "token.lane"\ncontract = "Token"\nsender = "alice"\n'


# ------------------------------------------------------------------ worlds

@pytest.mark.parametrize("text, message, line", [
    ("deploy = [1, 2]\n",
     "deployment #1 must be a table of name, source, contract, sender and args (written [[deploy]])", 1),
    ('deploy = [{name = "a", source = "token.lane", contract = "Token"}, "x"]\n',
     "deployment #2 must be a table of name, source, contract, sender and args (written [[deploy]])", 1),
    ("[deploy]\nname = 1\n", "deployments are written [[deploy]]", 1),
    ("accounts = [1]\n", '[accounts] must be a table of name = "0x..."', 1),
    ("[accounts]\nalice = 5\n", "account 'alice' must be a 0x address string", 2),
    ('[accounts]\nalice = "0x01"\n"bob smith" = "0x02"\n',
     "account 'bob smith' is not a name (letters, digits, '_', '.' and '-', starting with a letter or '_')", 3),
    ('[accounts]\nalice = "0x01"\n"\\u001b[2J" = "0x02"\n',
     "account '\\x1b[2J' is not a name (letters, digits, '_', '.' and '-', starting with a letter or '_')", 3),
    ('[accounts]\nalice = "0x٠١"\n', "account 'alice' is not an address: '0x٠١' (0x and at most 40 hex digits)", 2),
    ('[accounts]\nalice = "0x01"\ncarol = "0x02"\nbob = "0x0001"\n',
     f"account 'bob' has the address of account 'alice' (0x{1:040x})", 4),
    ('"\\u001b" = 1\n', "unknown section '\\x1b' (a world has [accounts], [chain] and [[deploy]])", None),
    (DEPLOY.replace('"usdc"', '"my token"'),
     "deployment #1: 'my token' is not a name (letters, digits, '_', '.' and '-', starting with a letter or '_')", 2),
    (DEPLOY.replace('"token.lane"', '"tok\\u0000en.lane"'),
     "deployment #1 ('usdc'): source file not found: {dir}/tok\\x00en.lane", 3),
    (DEPLOY.replace('"token.lane"', '"' + "t" * 5000 + '"'),
     "deployment #1 ('usdc'): source file not found: {long}", 3),
    (DEPLOY.replace('contract = "Token"', 'contract = "\\u0007"'),
     "deployment #1 ('usdc'): no contract '\\x07' in {dir}/token.lane (it has: Token)", 4),
    (f"# a comment\n{DEPLOY}args = [1]\n\n{DEPLOY.replace('usdc', 'dai')}args = [{BIG}]\n",
     "an integer exceeds 2^256-1", 14),
    # (an error about one key of a deployment points at that key's line)
    (f'{DEPLOY}args = ["{BIG}"]\n', "deployment 'usdc': init argument 'initial' exceeds 2^256-1", 6),
    (f'{DEPLOY}args = ["0x{"f" * 5000}"]\n', "deployment 'usdc': init argument 'initial' exceeds 2^256-1", 6),
    (f'{DEPLOY}args = ["٥"]\n', "deployment 'usdc': init argument 'initial' must be an integer, found '٥'", 6),
    (f'{DEPLOY}args = [1]\n\n{DEPLOY.replace("usdc", "dai")}args = "x"\n', "deployment #2 ('dai'): args must be a list",
     13),
    (f'{DEPLOY}args = [1, 2]\n', "deployment 'usdc': init of Token takes 1 argument, found 2", 6),
    (f'{DEPLOY.replace("alice", "bob")}args = [1]\n'.replace('sender = "bob"', "sender = 5"),
     "deployment #1 ('usdc'): sender must be a name or 0x address", 5),
    (DEPLOY + "colour = 1\n", "deployment #1: unknown key 'colour'", 6),
    (DEPLOY.replace('sender = "alice"\n', "") + "[[deploy]]\n" + DEPLOY.split("\n", 1)[1],
     "deployment #2: the name 'usdc' is already used", 6),
])
def test_malformed_worlds_are_errors_of_the_file(tmp_path, text, message, line):
    got_message, got_line, _ = world_error(tmp_path, text)
    message = message.replace("{dir}", str(tmp_path)).replace("{long}", shown(str(tmp_path / ("t" * 5000)), 4096))
    assert (got_message, got_line) == (message if line else f"{tmp_path / 'world.toml'}: {message}", line)


def test_a_deeply_nested_world_is_an_error_at_the_place(tmp_path):
    text = DEPLOY + "args = " + "[" * 100_000 + "]" * 100_000 + "\n"
    # The first bracket deeper than MAX_NESTING: "args = " is 7 characters.
    assert world_error(tmp_path, text) == ("invalid TOML: values nested too deeply", 6, 7 + MAX_NESTING + 1)


@pytest.mark.parametrize("text, where", [
    ('[[deploy]]\nname = "usdc"\nsource = ', (3, 10)),
    ("a = [1,\n\n", (1, 8)),
    ("a = [1,\r\n", (1, 8)),
    ("a = ", (1, 5)),
])
def test_a_world_cut_short_is_an_error_at_its_end(tmp_path, text, where):
    # tomllib says "at end of document" with no line: the error points just after the last line.
    message, *at = world_error(tmp_path, text)
    assert (message, tuple(at)) == ("invalid TOML: Invalid value at the end of the file", where)


def test_a_long_integer_in_a_world_is_pointed_at_not_at_digits_in_a_string(tmp_path):
    text = f'{DEPLOY}# {BIG}\nargs = ["{BIG}", {BIG}]\n'
    assert world_error(tmp_path, text) == ("an integer exceeds 2^256-1", 7, len(f'args = ["{BIG}", ') + 1)


def test_loading_a_world_is_linear_in_its_accounts(tmp_path, monkeypatch):
    """Once, each account's line was found by rescanning the text: 10,000 accounts took 73 s."""
    n = 10_000
    lines = ["[accounts]"] + [f'a{i} = "0x{i:040x}"' for i in range(n)]
    (tmp_path / "world.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls = []
    real = world_module._line_of
    monkeypatch.setattr(world_module, "_line_of", lambda *a: calls.append(a) or real(*a))
    start = time.perf_counter()
    world = load_world(tmp_path / "world.toml")
    assert time.perf_counter() - start < 10  # a generous guard: linear takes a fraction of a second
    assert len(calls) < 5  # a few searches of the whole text (a section's header), none per entry
    assert len(world.accounts) == n and world.accounts[f"a{n - 1}"] == n - 1
    # The last account's error names its own line, found by the same single pass.
    (tmp_path / "world.toml").write_text("\n".join(lines[:-1] + [f'a{n - 1} = "0xZZ"']) + "\n", encoding="utf-8")
    with pytest.raises(LaneError) as info:
        load_world(tmp_path / "world.toml")
    assert info.value.diagnostics[0].location.line == n + 1


def test_entry_lines_of_quoted_keys_and_spaced_headers():
    lines = world_module._EntryLines('[accounts]\n"a-b" = "0x1"\n\'c\' = "0x2"\n  [[ deploy ]]\nx = 1\n'
                                     '[[deploy]]\n[ accounts ]\nd = "0x3"\n')
    assert (lines.accounts, lines.deploys) == ({"a-b": 2, "c": 3, "d": 8}, [4, 6])


def test_name_of_an_account(tmp_path):
    world = load_world(token_world(tmp_path))
    assert world.name_of(int(ALICE, 16)) == "alice" and world.name_of(12345) is None


# ------------------------------------------------------------------ values and blocks

@pytest.fixture(scope="module")
def token(tmp_path_factory):
    root = tmp_path_factory.mktemp("token")
    return load_world(token_world(root))


def reasons(world, lines: list[str]) -> list[str | None]:
    """The invalid reason (None when valid) of each line of a block."""
    return [t.invalid for t in prepare(world, parse_block_text("\n".join(lines) + "\n", "b.jsonl"))]


def transfer(amount: str) -> str:
    return '{"from": "alice", "to": "token", "fn": "transfer", "args": ["bob", %s]}' % amount


@pytest.mark.parametrize("amount, reason", [
    ('"\u0665"', "argument 'amount' must be an integer, found '\u0665'"),  # ARABIC-INDIC DIGIT FIVE
    ('"\uff15"', "argument 'amount' must be an integer, found '\uff15'"),  # FULLWIDTH DIGIT FIVE
    ('" 5 "', "argument 'amount' must be an integer, found ' 5 '"),
    ('"5\\n"', "argument 'amount' must be an integer, found '5\\n'"),
    ('"1__0"', "argument 'amount' must be an integer, found '1__0'"),
    ('"_1"', "argument 'amount' must be an integer, found '_1'"),
    ('"1_"', "argument 'amount' must be an integer, found '1_'"),
    ('"0x_f"', "argument 'amount' must be an integer, found '0x_f'"),
    ('"-5"', "argument 'amount' must not be negative, found '-5'"),
    ("-5", "argument 'amount' must not be negative, found -5"),
    (BIG, "argument 'amount' exceeds 2^256-1"),
    ("-" + BIG, "argument 'amount' must not be negative"),
    (f'"{BIG}"', "argument 'amount' exceeds 2^256-1"),
    (f'"0x{BIG}"', "argument 'amount' exceeds 2^256-1"),
    (str(2**256), "argument 'amount' exceeds 2^256-1"),
    ("1e3", "argument 'amount' must be an integer, found a decimal number"),
    ("true", "argument 'amount' must be an integer, not a boolean"),
])
def test_only_ascii_integers_are_u256(token, amount, reason):
    assert reasons(token, [transfer(amount)]) == [reason]


@pytest.mark.parametrize("amount", ['"1_000"', '"0xff"', '"0XF_F"', f'"{"0" * 5000}7"', f'"0x{"0" * 5000}7"',
                                    str(2**256 - 1), f'"{2**256 - 1}"'])
def test_integers_in_every_accepted_form(token, amount):
    assert reasons(token, [transfer(amount)]) == [None]


@pytest.mark.parametrize("to, reason", [
    ('"0x٠١"', "argument 'to' is not an address: '0x٠١' (0x and at most 40 hex digits)"),
    ('" bob"', "argument 'to' is not an address or a name: ' bob'"),
    ('"0x1__2"', "argument 'to' is not an address: '0x1__2' (0x and at most 40 hex digits)"),
    ('"b\\u00e9b"', "argument 'to' is not an address or a name: 'b\u00e9b'"),
])
def test_only_ascii_addresses(token, to, reason):
    line = '{"from": "alice", "to": "token", "fn": "transfer", "args": [%s, 5]}' % to
    assert reasons(token, [line]) == [reason]


def test_duplicate_fields_make_a_transaction_invalid(token):
    assert reasons(token, [
        '{"from": "alice", "to": "token", "to": "bob", "fn": "transfer", "args": ["bob", 5]}',
        '{"from": "a:b", "to": "token", "fn": "transfer", "args": ["bob", 5], "fn": "x"}',
        '{"from": "alice", "to": "token", "fn": "transfer", "args": ["bob", 5]}',
        '{"from": "alice", "to": "token", "fn": "transfer", "args": ["b:o:b", 5]}',
        '{"from": "alice", "\\u0074o": "token", "fn": "transfer", "args": ["bob", 5], "to": "x"}',
        '[{"a": 1, "a": 2}]',
    ]) == ["duplicate field 'to'", "duplicate field 'fn'", None, "argument 'to' is not an address or a name: 'b:o:b'",
           "duplicate field 'to'", "a transaction must be a JSON object"]


def test_lines_end_at_newlines_only(token):
    """U+2028, U+2029 and NEL may stand in a JSON string as they are; a '\\r\\n' file reads as well."""
    lines = [transfer("1").replace('"transfer"', f'"tr{sep}ansfer"') for sep in ("\u2028", "\u2029", "\x85")]
    raw = parse_block_text("\r\n".join(lines + ["", transfer("2")]) + "\r\n", "b.jsonl")
    assert [no for no, _ in raw] == [1, 2, 3, 5]
    assert [t.invalid for t in prepare(token, raw)] == [
        "unknown function 'tr\\u2028ansfer' of Token", "unknown function 'tr\\u2029ansfer' of Token",
        "unknown function 'tr\\x85ansfer' of Token", None]


@pytest.mark.parametrize("prefix, depth", [
    ("", 0),
    ('{"from": "a", "args": ', 1),
    ('{"a": "' + "[" * 1000 + '", "b": ' + "{}" * 1000 + ', "c": ', 1),  # brackets in a string do not nest
])
def test_deep_json_is_an_error_at_the_place(prefix, depth):
    line = prefix + "[" * 100_000 + "]" * 100_000 + "}" * depth
    column = len(prefix) + MAX_NESTING - depth + 1  # the first bracket deeper than the limit
    with pytest.raises(LaneError) as info:
        parse_block_text(transfer("1") + "\n" + line + "\n", "b.jsonl")
    diag = info.value.diagnostics[0]
    assert (diag.message, diag.location.line, diag.location.column) == (
        f"JSON nested more than {MAX_NESTING} levels deep", 2, column)
    assert line[column - 1] in "[{"


def test_a_block_file_nested_past_the_decoders_recursion_says_where_and_shows_a_piece_of_the_line(tmp_path):
    """A line that looks like a transaction (its four keys, one object) with an argument nested 100,000
    deep: the fast decoder's recursion gives up (it was an internal error), the reference names the
    place, and the message shows the part of the 200 KB line around it, not all of it."""
    world = token_world(tmp_path)
    deep = "[" * 100_000 + "]" * 100_000
    block = write_block(tmp_path, ['{"from": "alice", "to": "token", "fn": "transfer", "args": %s}' % deep])
    result = CliRunner().invoke(app, ["run", str(world), str(block)])
    assert result.exit_code == 1 and "internal error" not in result.stderr, result.stderr
    first, shown_line, caret = result.stderr.splitlines()[:3]
    column = len('{"from": "alice", "to": "token", "fn": "transfer", "args": ') + MAX_NESTING
    assert first == f"{block}:1:{column}: error: JSON nested more than {MAX_NESTING} levels deep"
    assert shown_line.startswith("1 | ...[[[") and shown_line.endswith("...") and len(shown_line) < 200
    assert shown_line[caret.index("^")] == "["


def test_nesting_up_to_the_limit_is_read(token):
    deep = "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1)  # and the object: MAX_NESTING levels
    assert reasons(token, ['{"from": "alice", "to": "token", "fn": "transfer", "args": %s}' % deep]) == [
        "Token.transfer takes 2 arguments, found 1"]


def test_lone_surrogates_give_safe_reasons(token):
    got = reasons(token, [
        '{"from": "alice", "to": "token", "fn": "\\ud800", "args": []}',
        '{"from": "alice", "to": "token", "fn": "transfer", "args": ["bob", 5], "\\udfff\\u001b[31m": 1}',
        '{"from": "alice", "to": "\\udc80", "fn": "transfer", "args": ["bob", 5]}',
        '{"from": "alice", "to": "0x\\ud800", "fn": "transfer", "args": ["bob", 5]}',
        '{"from": "alice", "to": "token", "fn": "transfer", "args": ["bob", "\\ud800"]}',
    ])
    assert got == ["unknown function '\\ud800' of Token", "unknown field '\\udfff\\x1b[31m'",
                   "'to' is not an address or a name: '\\udc80'",
                   "'to' is not an address: '0x\\ud800' (0x and at most 40 hex digits)",
                   "argument 'amount' must be an integer, found '\\ud800'"]
    for reason in got:
        reason.encode("ascii")


def test_shown_cuts_long_texts_and_escapes_what_is_not_printable():
    assert shown("é\u200b\t\x00\U000e0001") == "é\\u200b\\t\\x00\\U000e0001"
    assert shown("x" * 100) == "x" * 80 + "..."


def test_decode_json_long_integers_keep_their_sign_and_length():
    assert repr(decode_json(f"[{BIG}, -{BIG}, 7]")) == (
        "[an integer of 5,000 digits, a negative integer of 5,000 digits, 7]")
    with pytest.raises(JsonError) as info:
        decode_json(f"[{BIG}, ]")
    assert (info.value.message, info.value.column) == ("invalid JSON: Expecting value", 5004)


# ------------------------------------------------------------------ timestamps

def test_the_default_timestamp_never_goes_back(tmp_path):
    chain = Chain.open(token_world(tmp_path))
    assert [run_block(chain, [], number=n, timestamp=t).timestamp
            for n, t in ((None, 1000), (None, None), (None, None), (100, None))] == [1000, 1000, 1000, 1200]
    with pytest.raises(LaneError) as info:
        run_block(chain, [], timestamp=1199)
    assert str(info.value) == "block timestamp 1199 is before the last block's: block 100 has timestamp 1200"
    assert run_block(chain, [], timestamp=1200).timestamp == 1200


def test_timestamps_of_a_state_file(tmp_path):
    world, block = token_world(tmp_path), write_block(tmp_path, [])
    state = tmp_path / "s.sqlite"
    assert lane("run", world, block, "--state", state, "--timestamp", 1000, "-e", "sequential")[1].startswith(
        "block 1 (timestamp 1000):")
    assert lane("run", world, block, "--state", state, "-e", "sequential")[1].startswith("block 2 (timestamp 1000):")
    for command in ("run", "schedule"):
        code, out, err = lane(command, world, block, "--state", state, "--timestamp", 999)
        assert (code, out, err) == (1, "", (f"error: block timestamp 999 is before the last block's: block 2 of "
                                            f"{state} has timestamp 1000\n"))


# ------------------------------------------------------------------ the command line

def test_more_workers_than_four_per_cpu_are_that_many(tmp_path):
    world = token_world(tmp_path)
    block = write_block(tmp_path, [tx("alice", "token", "transfer", "bob", 5)])
    code, out, err = lane("run", world, block, "--workers", MAX_WORKERS + 1, "-e", "parallel", "--json")
    assert code == 0
    assert err == f"note: --workers {MAX_WORKERS + 1} is more than 4 per CPU: {MAX_WORKERS} workers used\n"
    got = json.loads(out)
    assert got["workers"] == MAX_WORKERS
    reference = json.loads(lane("run", world, block, "-e", "sequential", "--json")[1])
    assert (got["state_root"], got["receipts_root"]) == (reference["state_root"], reference["receipts_root"])
    assert lane("run", world, block, "--workers", 0)[0] == 1  # (and no worker at all is a usage error)
    code, out, err = lane("bench", "--workers", f"1,{MAX_WORKERS + 1}")
    assert (code, err) == (1, f"error: --workers {MAX_WORKERS + 1} is more than 4 per CPU ({MAX_WORKERS})\n")


def last_block(state) -> tuple[int, int]:
    store = StateStore(state, writable=False)
    try:
        return store.last_block
    finally:
        store.close()


SURROGATE_BLOCK = [tx("alice", "token", "transfer", "bob", 5), '{"from": "alice", "to": "token", "fn": "\\ud800"}']


@pytest.mark.parametrize("json_out", [False, True])
def test_a_surrogate_never_fails_the_output_of_a_committed_block(tmp_path, json_out):
    world, block = token_world(tmp_path), write_block(tmp_path, SURROGATE_BLOCK)
    state = tmp_path / "s.sqlite"
    code, out, err = lane("run", world, block, "--state", state, *(["--json"] if json_out else []))
    assert (code, err) == (0, "")
    if json_out:
        assert json.loads(out)["receipts"][1]["reason"] == "unknown function '\\ud800' of Token"
    else:
        assert "    #1 (line 2): invalid: unknown function '\\ud800' of Token\n" in out
    assert last_block(state) == (1, 12)


def test_what_run_prints_is_made_before_the_commit(tmp_path, monkeypatch):
    """If making the output fails, the block is not committed: running it again is safe."""
    import compiler.report

    world, block = token_world(tmp_path), write_block(tmp_path, SURROGATE_BLOCK)
    state = tmp_path / "s.sqlite"

    def broken(result):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(compiler.report, "render_block_summary", broken)
    result = CliRunner().invoke(app, ["run", str(world), str(block), "--state", str(state)])
    assert result.exit_code == 3
    monkeypatch.undo()
    assert last_block(state) == (0, 0)
    assert lane("run", world, block, "--state", state)[1].startswith("block 1 (timestamp 12)")


def test_an_ascii_terminal_gets_escapes(tmp_path):
    world = token_world(tmp_path)
    block = write_block(tmp_path, [tx("alice", "token", "tr\u00e9nsfer")])
    code, out, err = lane("run", world, block, charset="ascii")
    assert code == 0 and "invalid: unknown function 'tr\\xe9nsfer' of Token" in out
    code, out, err = lane("call", world, "t\u00f6ken", "x", charset="ascii")
    assert (code, out, err) == (1, "", "error: unknown contract 't\\xf6ken' (deployed: token)\n")


def test_call_arguments_are_read_as_blocks_are(tmp_path):
    world = make_world(tmp_path, {"sum.lane": """
        contract Sum {
            pub view fn total(xs: array<u256, 3>) -> u256 {
                let s: u256 = 0;
                for i in 0..len(xs) { s += xs[i]; }
                return s;
            }
        }
        """}, [{"name": "sum", "source": "sum.lane", "contract": "Sum"}])
    assert lane("call", world, "sum", "total", '[1, "0x10", "1_000"]') == (0, "1017\n", "")
    assert lane("call", world, "sum", "total", f"[1, {BIG}]") == (
        1, "", "error: argument 'xs'[1] exceeds 2^256-1\n")
    assert lane("call", world, "sum", "total", '["\u0665"]') == (
        1, "", "error: argument 'xs'[0] must be an integer, found '\u0665'\n")
    code, out, err = lane("call", world, "sum", "total", "[" * 100_000)
    assert (code, out) == (1, "") and err.endswith(
        f"is not a list: nested more than {MAX_NESTING} levels deep\n")
    code, out, err = lane("call", world, "\udcff", "total")
    assert (code, out, err) == (1, "", "error: unknown contract '\\udcff' (deployed: sum)\n")


def test_a_byte_order_mark_that_starts_a_file_is_skipped(tmp_path):
    """A contract, a world and a block file saved with a UTF-8 byte order mark (as some editors
    save them) run as the same files without it: the same roots, the same output; a mark
    anywhere else is still what it is (in a block line, invalid JSON)."""
    from pathlib import Path

    demo = Path(__file__).resolve().parent.parent / "examples"
    marked = tmp_path / "marked"
    marked.mkdir()
    for path in demo.glob("*.lane"):
        (marked / path.name).write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    world = (demo / "demo" / "world.toml").read_text().replace('"../', '"')
    (marked / "world.toml").write_bytes(b"\xef\xbb\xbf" + world.encode())
    block = (demo / "demo" / "block1.jsonl").read_bytes()
    (marked / "block1.jsonl").write_bytes(b"\xef\xbb\xbf" + block)
    plain = CliRunner().invoke(app, ["run", str(demo / "demo" / "world.toml"), str(demo / "demo" / "block1.jsonl"),
                                     "--json"])
    got = CliRunner().invoke(app, ["run", str(marked / "world.toml"), str(marked / "block1.jsonl"), "--json"])
    assert plain.exit_code == got.exit_code == 0, got.output
    roots = [{k: json.loads(r.output)[k] for k in ("state_root", "receipts_root")} for r in (plain, got)]
    assert roots[0] == roots[1]
    assert CliRunner().invoke(app, ["check", str(marked / "token.lane")]).exit_code == 0
    (marked / "twice.jsonl").write_bytes(block.replace(b"\n", b"\n\xef\xbb\xbf", 1))
    twice = CliRunner().invoke(app, ["run", str(marked / "world.toml"), str(marked / "twice.jsonl")])
    assert twice.exit_code == 1 and "twice.jsonl:2:1" in twice.output and "BOM" in twice.output


def test_an_instance_deployed_at_an_account_s_fixed_address_is_an_error_at_its_name(tmp_path):
    address = derive_address("usdc", "contract")
    text = f'[accounts]\nalice = "0x{address:040x}"\n' + DEPLOY + "args = [1]\n"
    assert world_error(tmp_path, text)[:2] == (
        f"deployment #1: 'usdc' is deployed at 0x{address:040x}, the address of account 'alice'", 4)
