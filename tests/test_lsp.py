"""``lane lsp`` end to end: a pytest-lsp client talks to the server over stdio.

One server serves the whole module (each test uses its own files); every step
waits for the server's notification or answer, never for time to pass.
"""

from __future__ import annotations

import json
import shutil

import pytest
import pytest_lsp
from hypothesis import HealthCheck, given, settings
from lsprotocol import types
from pytest_lsp import LanguageClient

from conftest import EXAMPLES, REPO, run_lane
from contract_gen import Program, programs
from fuzzing import examples
from lsp_helpers import (SERVER, change_document, close_document, code_units, open_document, position_of,
                         start, uri)

lsp_test = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    lsp_client.published, encoding = await start(lsp_client)
    assert encoding == "utf-16"  # positions in these tests are counted in UTF-16
    yield
    await lsp_client.shutdown_session()


def doc_id(doc_uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=doc_uri)


async def hover(client: LanguageClient, doc_uri: str, position: types.Position) -> types.Hover | None:
    return await client.text_document_hover_async(types.HoverParams(text_document=doc_id(doc_uri),
                                                                    position=position))


async def definition(client: LanguageClient, doc_uri: str, position: types.Position) -> types.Location:
    result = await client.text_document_definition_async(types.DefinitionParams(text_document=doc_id(doc_uri),
                                                                                position=position))
    assert isinstance(result, types.Location), result
    return result


def span(d) -> tuple[int, int, int, int]:
    r = d.range
    return (r.start.line, r.start.character, r.end.line, r.end.character)


BAD = """\
contract Counter {
    storage counts: map<address, u256>;
    pub fn bump() {
        let step: u256 = true;
        counts[msg.sender] += step;
    }
}
"""
GOOD = BAD.replace("u256 = true", "u256 = 1")


@lsp_test
async def test_error_at_its_line_with_the_version_then_fixed_then_cleared(client, tmp_path):
    path = tmp_path / "counter.lane"
    path.write_text(GOOD)  # the disk is fine; the unsaved buffer is not
    published = client.published
    mark = published.mark()
    doc = open_document(client, path, BAD, version=7)
    got = await published.wait(doc, mark)
    assert got.version == 7
    (diag,) = got.diagnostics
    assert span(diag) == (3, 25, 3, 29)  # `true` on line 4, column 26 of `lane check`
    assert diag.severity == types.DiagnosticSeverity.Error
    assert (diag.code, diag.source) == ("type-mismatch", "lane")
    assert diag.message == "expected u256, found bool: 'step' is u256"

    mark = published.mark()
    change_document(client, doc, GOOD, version=8)
    got = await published.wait(doc, mark)
    assert (got.version, list(got.diagnostics)) == (8, [])

    mark = published.mark()
    close_document(client, doc)
    got = await published.wait(doc, mark)
    assert list(got.diagnostics) == [] and got.version is None


@lsp_test
async def test_a_burst_of_changes_is_checked_once_at_its_last_version(client, tmp_path):
    path = tmp_path / "burst.lane"
    path.write_text(GOOD)
    published = client.published
    mark = published.mark()
    doc = open_document(client, path)
    await published.wait(doc, mark, version=1)
    mark = published.mark()
    for version in range(2, 7):  # typing the file out: versions 2 to 5 half-typed, 6 the whole (wrong) text
        change_document(client, doc, BAD[: 60 + 10 * version] if version < 6 else BAD, version)
    got = await published.wait(doc, mark)
    assert got.version == 6
    assert [p.version for p in published.since(mark, doc)] == [6]  # the half-typed versions were never checked
    assert [d.message for d in got.diagnostics] == ["expected u256, found bool: 'step' is u256"]
    close_document(client, doc)


@lsp_test
async def test_syntax_error_names_what_was_expected(client, tmp_path):
    path = tmp_path / "syntax.lane"
    mark = client.published.mark()
    doc = open_document(client, path, "contract C {\n    fn f() {\n        let x = 1\n    }\n}\n")
    got = await client.published.wait(doc, mark)
    (diag,) = got.diagnostics
    assert diag.message == "expected ';' or an operator, found '}'"
    assert span(diag) == (2, 17, 2, 18)  # right after `1`, where the ';' is missing
    close_document(client, doc)


def compared(got: types.PublishDiagnosticsParams, report: dict, path, text: str) -> tuple[list, list]:
    """What the server published for the file ``path`` (its ``text``) and what ``lane check --json``'s
    ``report`` says of it, as sorted tuples to compare."""
    severities = {types.DiagnosticSeverity.Error: "error", types.DiagnosticSeverity.Warning: "warning"}
    shown = sorted((*span(d), severities[d.severity], d.code, d.message) for d in got.diagnostics)
    return shown, sorted(_expected(d, text) for d in report["diagnostics"] if d["location"]["file"] == str(path))


def _expected(diag: dict, text: str) -> tuple:
    """A diagnostic of ``lane check --json`` as the server must show it (LSP positions, hint appended)."""
    loc = diag["location"]
    lines = text.split("\n")

    def position(line: int, column: int) -> tuple[int, int]:
        return line - 1, code_units(lines[line - 1][: column - 1], "utf-16")

    message = diag["message"] + (f"\nhint: {diag['hint']}" if diag["hint"] else "")
    return (*position(loc["line"], loc["column"]), *position(loc["end_line"], loc["end_column"]),
            diag["severity"], diag["code"], message)


@lsp_test
async def test_every_example_has_the_diagnostics_of_lane_check(client):
    proc = run_lane("check", "--json", *map(str, EXAMPLES))
    report = json.loads(proc.stdout)
    assert report["warnings"] > 0  # the examples have hot spots: the comparison covers warnings
    published = client.published
    for path in EXAMPLES:
        mark = published.mark()
        doc = open_document(client, path)
        got = await published.wait(doc, mark)
        shown, expected = compared(got, report, path, path.read_text())
        assert shown == expected, path.name
        close_document(client, doc)


@lsp_test
async def test_generated_programs_have_the_diagnostics_of_lane_check(client, tmp_path):
    """Programs nobody wrote by hand (tests/contract_gen.py: hot spots, references between contracts,
    a program split into files that import one another, a file imported twice): every file, opened in
    the editor, shows what ``lane check`` of the program says of it."""
    drawn: list[Program] = []

    @settings(max_examples=examples(8), derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(programs().filter(lambda p: len(p.files) > 1) | programs())
    def draw(program: Program) -> None:
        drawn.append(program)

    draw()
    assert any(len(p.files) > 1 for p in drawn)  # (split programs among them: imports are compared too)
    published = client.published
    for k, program in enumerate(drawn):
        root = tmp_path / f"p{k}"
        root.mkdir()
        program.write(root)
        report = json.loads(run_lane("check", "--json", str(root / "c.lane")).stdout)
        assert report["errors"] == 0, program.source
        mark = published.mark()
        docs = {name: open_document(client, root / name) for name in program.files}
        for name, doc in docs.items():
            shown, expected = compared(await published.wait(doc, mark), report, root / name, program.files[name])
            assert shown == expected, f"{name} of\n{program.source}"
        for doc in docs.values():
            close_document(client, doc)


@lsp_test
async def test_hot_spot_warning(client, tmp_path):
    path = tmp_path / "token.lane"
    shutil.copy(REPO / "examples" / "token.lane", path)
    text = path.read_text()
    mark = client.published.mark()
    doc = open_document(client, path)
    got = await client.published.wait(doc, mark)
    (diag,) = got.diagnostics
    assert diag.severity == types.DiagnosticSeverity.Warning and diag.code == "hot-spot"
    assert diag.message.startswith("hot spot: every call of Token.transfer_ownership writes Token.owner, ")
    assert "\nhint: key owner by msg.sender" in diag.message
    assert diag.range.start == position_of(text, "owner = new_owner")  # the statement that writes it
    assert diag.range.end == position_of(text, "owner = new_owner;", offset=len("owner = new_owner;"))
    close_document(client, doc)


LIB = """\
contract Lib {
    pub view fn value() -> u256 { return 1; }
}
"""
MAIN = """\
import "lib.lane";

contract Main {
    storage lib: Lib;
    pub view fn get() -> u256 { return lib.value(); }
}
"""


@lsp_test
async def test_an_importer_is_checked_again_with_the_unsaved_text_of_what_it_imports(client, tmp_path):
    (tmp_path / "lib.lane").write_text(LIB)
    (tmp_path / "main.lane").write_text(MAIN)
    published = client.published
    mark = published.mark()
    main = open_document(client, tmp_path / "main.lane", version=1)
    lib = open_document(client, tmp_path / "lib.lane", version=1)
    assert list((await published.wait(main, mark)).diagnostics) == []
    assert list((await published.wait(lib, mark)).diagnostics) == []

    # Rename the function in the buffer of lib.lane, without saving: main.lane's call breaks.
    mark = published.mark()
    change_document(client, lib, LIB.replace("value", "amount"), version=2)
    got = await published.wait(main, mark)
    assert got.version == 1  # main.lane itself did not change
    (diag,) = got.diagnostics
    assert diag.message == "contract 'Lib' has no function 'value'"
    assert diag.range.start == position_of(MAIN, "value")
    assert (tmp_path / "lib.lane").read_text() == LIB

    # An error inside lib.lane shows in main.lane at the import that brings it in.
    mark = published.mark()
    change_document(client, lib, LIB.replace("return 1", "return true"), version=3)
    got = await published.wait(main, mark)
    (diag,) = got.diagnostics
    assert diag.severity == types.DiagnosticSeverity.Error
    assert diag.message == "error in imported file lib.lane:2:42: expected u256, found bool: function 'value' returns u256"
    assert span(diag) == (0, 0, 0, len('import "lib.lane";'))
    (related,) = diag.related_information
    assert related.location.uri == lib and related.location.range.start == position_of(LIB, "1;")
    own = await published.wait(lib, mark, version=3)
    assert [d.range.start for d in own.diagnostics] == [position_of(LIB, "1;")]

    # Closing lib.lane without saving: main.lane reads it from disk again.
    mark = published.mark()
    close_document(client, lib)
    assert list((await published.wait(main, mark)).diagnostics) == []
    close_document(client, main)


WIDE = """\
contract Wide {
    storage total: u256;
    pub fn bump() { /* \U0001F600 \u00fcn\u00ef */ total = total + 1; }
    pub fn broken() { /* \U0001F600 */ let x: u256 = false; }
}
"""


@lsp_test
async def test_columns_are_utf16_code_units(client, tmp_path):
    path = tmp_path / "wide.lane"
    mark = client.published.mark()
    doc = open_document(client, path, WIDE)
    (diag,) = (await client.published.wait(doc, mark)).diagnostics
    start = position_of(WIDE, "false")
    assert span(diag) == (start.line, start.character, start.line, start.character + 5)
    assert start.character == len("    pub fn broken() { /* ") + 2 + len(" */ let x: u256 = ")  # the emoji is 2
    # Without the error, the hot-spot warning points at the statement after the emoji.
    mark = client.published.mark()
    change_document(client, doc, WIDE.replace("false", "0"), version=2)
    (diag,) = (await client.published.wait(doc, mark)).diagnostics
    assert diag.code == "hot-spot" and diag.range.start == position_of(WIDE, "total = total")
    # A hover on the second `total` of that line answers for exactly that name.
    where = position_of(WIDE, "total + 1", offset=2)
    result = await hover(client, doc, where)
    assert result.range.start == position_of(WIDE, "total + 1")
    assert result.range.end == position_of(WIDE, "total + 1", offset=5)
    assert "storage total: u256" in result.contents.value
    close_document(client, doc)


@pytest.fixture
def token_copy(tmp_path):
    path = tmp_path / "token.lane"
    shutil.copy(REPO / "examples" / "token.lane", path)
    return path


@lsp_test
async def test_hover_on_a_pub_function_shows_what_lane_analyze_prints(client, token_copy):
    from compiler.analysis.report import function_json, render_function
    from compiler.pipeline import CompilerData

    text = token_copy.read_text()
    doc = open_document(client, token_copy)
    result = await hover(client, doc, position_of(text, "fn transfer(", offset=len("fn tr")))
    value = result.contents.value
    assert result.contents.kind == types.MarkupKind.Markdown
    assert "pub fn transfer(to: address, amount: u256) -> bool" in value
    summary = CompilerData(token_copy).summaries["Token.transfer"]
    expected = render_function(function_json(summary))
    assert expected[0] == "Token.transfer  (worst-case cost 23)"
    assert "\n".join(expected) in value  # the lines of `lane analyze`, access by access
    assert result.range.start == position_of(text, "transfer(")

    # The hot spot of a function is part of its hover.
    result = await hover(client, doc, position_of(text, "transfer_ownership"))
    assert "hot spot: every call of Token.transfer_ownership writes Token.owner" in result.contents.value
    close_document(client, doc)


@lsp_test
async def test_hover_on_a_storage_variable_shows_its_type_and_who_touches_it(client, token_copy):
    text = token_copy.read_text()
    doc = open_document(client, token_copy)
    for where in (position_of(text, "balances:"), position_of(text, "balances[msg.sender] -=")):  # decl and use
        value = (await hover(client, doc, where)).contents.value
        assert "storage balances: map<address, u256>" in value
        assert "- read by: `Token.transfer`, `Token.transfer_from`, `Token.burn`, `Token.balance_of`" in value
        assert "- written by: `Token.transfer`, `Token.transfer_from`, `Token.burn`" in value
        assert "- added to by: `Token.transfer`, `Token.transfer_from`, `Token.mint`" in value
    close_document(client, doc)


@lsp_test
async def test_hover_while_the_program_has_errors(client, tmp_path):
    path = tmp_path / "counter.lane"
    mark = client.published.mark()
    doc = open_document(client, path, BAD)
    await client.published.wait(doc, mark)
    value = (await hover(client, doc, position_of(BAD, "bump"))).contents.value
    assert "pub fn bump()" in value and "once the program has no errors" in value
    assert "storage counts: map<address, u256>" in (await hover(client, doc, position_of(BAD, "counts["))).contents.value
    assert await hover(client, doc, position_of(BAD, "{")) is None  # nothing there
    close_document(client, doc)


@lsp_test
async def test_go_to_definition(client, tmp_path):
    for name in ("amm.lane", "token.lane"):
        shutil.copy(REPO / "examples" / name, tmp_path / name)
    amm, token = (tmp_path / "amm.lane").read_text(), (tmp_path / "token.lane").read_text()
    doc = open_document(client, tmp_path / "amm.lane")
    token_uri = uri(tmp_path / "token.lane")
    cases = [
        # (what, position in amm.lane, expected file, expected start, in that file's text)
        ("a contract type from an import", position_of(amm, "Token;"), token_uri, position_of(token, "Token {")),
        ("a pub function of another contract", position_of(amm, "transfer_from(msg.sender, self, amount0)"),
         token_uri, position_of(token, "transfer_from(from")),
        ("an event", position_of(amm, "Mint(msg.sender"), doc, position_of(amm, "Mint(provider")),
        ("a storage variable", position_of(amm, "total_shares == 0"), doc, position_of(amm, "total_shares: u256")),
        ("a local variable", position_of(amm, "r0 + amount0"), doc, position_of(amm, "r0 = reserves")),
        ("a parameter", position_of(amm, "amount0 > 0"), doc,
         position_of(amm, "add_liquidity(amount0", offset=len("add_liquidity("))),
        ("a constant", position_of(amm, "FEE_BPS", 1), doc, position_of(amm, "FEE_BPS: u256")),
        ("an internal function", position_of(amm, "amount_out_for("), doc,
         position_of(amm, "amount_out_for(amount_in: u256")),
        ("an imported file", position_of(amm, "token.lane"), token_uri, types.Position(line=0, character=0)),
    ]
    for what, where, target_uri, target_start in cases:
        result = await definition(client, doc, where)
        assert (result.uri, result.range.start) == (target_uri, target_start), what
    close_document(client, doc)


@lsp_test
async def test_document_symbols_outline_the_file(client, token_copy):
    text = token_copy.read_text()
    doc = open_document(client, token_copy)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(doc)))
    (contract,) = symbols
    assert (contract.name, contract.kind) == ("Token", types.SymbolKind.Class)
    assert contract.selection_range.start == position_of(text, "Token {")
    members = {c.name: (c.kind, c.detail) for c in contract.children}
    assert list(members)[:4] == ["owner", "total_supply", "balances", "allowances"]
    assert members["balances"] == (types.SymbolKind.Field, "map<address, u256>")
    assert members["Transfer"] == (types.SymbolKind.Event, "(from: address, to: address, amount: u256)")
    assert members["init"] == (types.SymbolKind.Constructor, "init(supply: u256)")
    assert members["transfer"] == (types.SymbolKind.Method, "pub fn(to: address, amount: u256) -> bool")
    assert members["balance_of"] == (types.SymbolKind.Method, "pub view fn(who: address) -> u256")

    # A type error keeps the outline of the current text; a syntax error keeps the last one that parsed.
    change_document(client, doc, text.replace("contract Token {", "contract Token {\n    storage oops: u256 = 1;"), 2)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(doc)))
    assert [c.name for c in symbols[0].children][:4] == ["owner", "total_supply", "balances", "allowances"]
    change_document(client, doc, text.replace("contract Token {", "contract Token {\n    fn extra(x: bool) { let y: u256 = x; }"), 3)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(doc)))
    assert symbols[0].children[0].name == "extra"
    close_document(client, doc)


@pytest.mark.asyncio
async def test_a_client_without_hierarchical_symbols_gets_a_flat_list(token_copy, monkeypatch):
    from compiler.lsp.server import make_server, symbols

    ls = make_server()
    monkeypatch.setattr(ls, "text_document_publish_diagnostics", lambda params: None)  # no client here
    ls.protocol.client_capabilities = types.ClientCapabilities()  # an old client: no symbol tree
    doc = uri(token_copy)
    ls.documents.open(doc, token_copy.read_text(), 1)
    try:
        listed = await symbols(ls, types.DocumentSymbolParams(text_document=doc_id(doc)))
    finally:
        ls.close()
    assert all(isinstance(s, types.SymbolInformation) for s in listed)
    assert (listed[0].name, listed[0].container_name) == ("Token", None)
    assert ("transfer", "Token") in {(s.name, s.container_name) for s in listed}
    assert {s.location.uri for s in listed} == {doc}
