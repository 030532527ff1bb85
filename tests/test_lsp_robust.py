"""The language server never dies: not on half-typed code, not on a bug of its own.

Hypothesis mutates the example contracts into streams of edits, sent as
``didChange`` notifications as fast as a typist never could; after each
stream the server must still answer requests and publish, for the stream's
last version, exactly the diagnostics the compiler gives for that text.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
import pytest_lsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from compiler.lsp.server import guarded, make_server
from compiler.pipeline import CompilerData
from compiler.semantics.loader import SourceCache
from conftest import EXAMPLES
from lsp_helpers import SERVER, change_document, close_document, code_units, open_document, start, uri
from fuzzing import examples

lsp_test = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    # Recent Neovim offers UTF-8 positions first: the server takes them, and the checks below count in them.
    lsp_client.published, lsp_client.encoding = await start(lsp_client, editor="neovim")
    assert lsp_client.encoding == "utf-8"
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Copies of the examples, so that their imports resolve; the tests edit only buffers."""
    directory = tmp_path_factory.mktemp("robust")
    for path in EXAMPLES:
        shutil.copy(path, directory / path.name)
    return directory


TEXTS = {path.name: path.read_text() for path in EXAMPLES}
# Pieces of Lane and of other text: keywords, punctuation, half a comment, characters outside ASCII.
PIECES = ["contract", "storage", "pub", "view", "fn", "let", "if", "else", "for", "in", "..", "require", "emit",
          "return", "import", "map<", "array<", "u256", "address", "(", ")", "{", "}", "[", "]", "<", ">", ";",
          ",", ":", "=", "+=", "-=", "==", "&&", "||", "!", "->", ".", '"', "/*", "*/", "//", "\n", " ", "\t",
          "0x", "1_000", "msg.sender", "self", "é", "\U0001F600", "\x00"]


WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@st.composite
def edits(draw) -> tuple[str, list[str]]:
    """An example's name and the texts of a stream of edits to it, each a mutation of the one before."""
    name = draw(st.sampled_from(sorted(TEXTS)))
    text = TEXTS[name]
    texts = []
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "swap"]))
        words = list(WORD.finditer(text))
        if kind == "swap" and words:  # one name or keyword where another stood: mostly well-formed, often wrong
            word = draw(st.sampled_from(words))
            other = draw(st.sampled_from(words)).group()
            text = text[:word.start()] + other + text[word.end():]
        elif kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            piece = draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)))
            text = text[:i] + piece + (text[j:] if kind == "replace" else text[i:])
        texts.append(text)
    return name, texts


def expected_diagnostics(path: Path, text: str, encoding: str) -> list[tuple]:
    """What ``lane check`` says about ``text`` as the buffer of ``path``, in LSP positions."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]

    def position(line: int, column: int) -> tuple[int, int]:
        chars, source = column - 1, lines[line - 1]
        return line - 1, code_units(source[:chars], encoding) + max(chars - len(source), 0)

    out = []
    for d in CompilerData(str(path), SourceCache(overlays={path.resolve(): text})).diagnostics():
        loc = d.location
        if loc is not None and loc.file == str(path):
            out.append((*position(loc.line, loc.column), *position(loc.end_line, loc.end_column), d.code, d.message))
    return sorted(out)


VERSIONS = iter(range(2, 10**9))


@lsp_test
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=edits(), where=st.tuples(st.integers(0, 200), st.integers(0, 120)))
async def test_a_stream_of_mutations_never_kills_the_server(client, workdir, stream, where):
    name, texts = stream
    path = workdir / name
    doc = uri(path)
    published = client.published
    mark = published.mark()
    open_document(client, path)
    for text in texts:
        version = next(VERSIONS)
        change_document(client, doc, text, version)
    position = types.Position(line=where[0], character=where[1])
    ident = types.TextDocumentIdentifier(uri=doc)
    # Requests while checks are pending, anywhere in the file (or past its end): answered, never an error.
    await client.text_document_hover_async(types.HoverParams(text_document=ident, position=position))
    await client.text_document_definition_async(types.DefinitionParams(text_document=ident, position=position))
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=ident))
    assert isinstance(symbols, list)
    got = await published.wait(doc, mark, version=version)
    shown = sorted((d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
                    d.code, d.message.split("\nhint: ")[0].split("\nnote: ")[0]) for d in got.diagnostics)
    assert shown == expected_diagnostics(path, texts[-1], client.encoding), repr(texts[-1][:60])
    assert [m.message for m in client.log_messages if m.type == types.MessageType.Error] == []  # no fault
    close_document(client, doc)  # the next stream starts from the files on disk


@lsp_test
async def test_requests_about_unknown_documents_and_far_positions_are_answered(client, workdir):
    far = types.Position(line=10**6, character=10**6)
    nowhere = types.TextDocumentIdentifier(uri=uri(workdir / "never-opened.lane"))
    with pytest.raises(JsonRpcInvalidParams, match="never-opened.lane is not open"):
        await client.text_document_hover_async(types.HoverParams(text_document=nowhere, position=far))
    with pytest.raises(JsonRpcInvalidParams, match="never-opened.lane is not open"):
        await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=nowhere))
    mark = client.published.mark()
    doc = open_document(client, workdir / "half.lane", "contract Half {\n    pub fn f(\n")
    got = await client.published.wait(doc, mark)
    assert [d.code for d in got.diagnostics] == ["syntax"]
    ident = types.TextDocumentIdentifier(uri=doc)
    assert await client.text_document_hover_async(types.HoverParams(text_document=ident, position=far)) is None
    assert await client.text_document_definition_async(types.DefinitionParams(text_document=ident,
                                                                              position=far)) is None


# -------------------------------------------------- a bug inside a handler or a check (in process)

class Recorder:
    def __init__(self) -> None:
        self.logged: list[types.LogMessageParams] = []
        self.published: list[types.PublishDiagnosticsParams] = []


@pytest.fixture
def server(monkeypatch):
    """A server without a client: what it would send is recorded."""
    ls = make_server()
    record = Recorder()
    monkeypatch.setattr(ls, "window_log_message", record.logged.append)
    monkeypatch.setattr(ls, "text_document_publish_diagnostics", record.published.append)
    ls.record = record
    yield ls
    ls.close()


def broken_check(request, progress):
    """A check with a bug in it (run by a worker, which imports this module)."""
    raise ZeroDivisionError("a bug")


def test_a_failing_handler_is_logged_and_answers_its_fallback(server):
    @guarded(fallback=[])
    def handler(ls, params):
        return 1 / 0

    assert handler(server, None) == []
    (log,) = server.record.logged
    assert log.type == types.MessageType.Error
    assert "internal error in handler (a bug in Lane" in log.message and "ZeroDivisionError" in log.message


@pytest.mark.asyncio
async def test_a_failing_async_handler_is_logged_but_a_json_rpc_error_passes(server):
    @guarded()
    async def handler(ls, params):
        return 1 / 0

    @guarded()
    async def refuses(ls, params):
        raise JsonRpcInvalidParams("not open")

    assert await handler(server, None) is None
    assert "ZeroDivisionError" in server.record.logged[0].message
    with pytest.raises(JsonRpcInvalidParams):
        await refuses(server, None)
    assert len(server.record.logged) == 1


@pytest.mark.asyncio
async def test_a_failing_check_is_shown_as_an_internal_diagnostic_and_logged(server, tmp_path):
    server.pool.handler = broken_check
    doc = uri(tmp_path / "x.lane")
    server.documents.open(doc, "contract X {}\n", 3)
    server.check(doc)
    await asyncio.wait_for(server.facts(doc, complete=True), 60)
    (sent,) = server.record.published
    assert sent.version == 3
    (diag,) = sent.diagnostics
    assert diag.code == "internal"
    assert diag.message.startswith("internal error while checking: ZeroDivisionError: a bug\nThis is a bug in Lane")
    (log,) = server.record.logged
    assert log.message.startswith(f"internal error in checking {tmp_path / 'x.lane'} (a bug in Lane")
    assert "ZeroDivisionError: a bug" in log.message


@pytest.mark.asyncio
async def test_requests_survive_a_failing_check(server, tmp_path):
    from compiler.lsp.server import definition, hover, symbols

    server.pool.handler = broken_check
    doc = uri(tmp_path / "x.lane")
    server.documents.open(doc, "contract X {}\n", 1)
    ident = types.TextDocumentIdentifier(uri=doc)
    origin = types.Position(line=0, character=10)
    assert await hover(server, types.HoverParams(text_document=ident, position=origin)) is None
    assert await definition(server, types.DefinitionParams(text_document=ident, position=origin)) is None
    assert await symbols(server, types.DocumentSymbolParams(text_document=ident)) == []
    assert len(server.record.logged) == 1  # the check's fault, once: the requests found nothing wrong
