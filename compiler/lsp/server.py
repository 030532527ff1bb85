"""The language server: Lane's checker, hovers, definitions and outline over LSP (pygls, stdio).

Diagnostics are those of ``lane check``, published with the document's version
after typing pauses (:mod:`.debounce`, one timer per document), again for every
open document that imports a changed one, and cleared when a document closes.

Every handler is guarded: an exception inside one, on any half-typed text, is
logged to the client (``window/logMessage``) as a bug in Lane and the server
goes on serving; a failed check is also shown as an ``internal`` diagnostic.
"""

from __future__ import annotations

import functools
import traceback
from typing import Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from .. import __version__
from .debounce import Debouncer
from .diagnostics import SOURCE, for_document
from .documents import Check, Document, Documents
from .hover import hover_markdown
from .lookup import at, declaration
from .outline import document_symbols, flat_symbols
from .positions import UTF16, LineIndex, SourceMap

DEBOUNCE_SECONDS = 0.25


class LaneServer(LanguageServer):
    """A pygls server that knows the open documents and the last check of each."""

    def __init__(self, debounce: float = DEBOUNCE_SECONDS) -> None:
        super().__init__("lane", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.documents = Documents()
        self.debouncer = Debouncer(self.publish, debounce)
        self._published: dict[str, tuple[int | None, Check | None]] = {}

    @property
    def encoding(self) -> str:
        """The position encoding agreed with the client (UTF-16 unless it offered another)."""
        try:
            encoding = self.workspace.position_encoding
        except RuntimeError:  # not initialised yet
            return UTF16
        return str(getattr(encoding, "value", encoding) or UTF16)

    def source_map(self, doc: Document, check: Check) -> SourceMap:
        def uri_of(file: str) -> str:
            return doc.uri if file == doc.file else (from_fs_path(file) or file)

        return SourceMap(check.data.sources, uri_of, self.encoding)

    def report_fault(self, what: str) -> None:
        """Log the exception being handled as a bug in Lane; never raises."""
        try:
            self.window_log_message(types.LogMessageParams(
                type=types.MessageType.Error,
                message=f"internal error in {what} (a bug in Lane, not in your contract):\n"
                        f"{traceback.format_exc()}"))
        except Exception:  # noqa: BLE001 - the client went away: nothing left to tell
            pass

    # ------------------------------------------------------------ checking
    def schedule(self, uri: str, delay: float | None = None) -> None:
        """Check ``uri`` once typing pauses, and every open document that imports it."""
        self.debouncer.schedule(uri, delay)
        for other in self.documents.dependents(uri):
            self.debouncer.schedule(other)

    def publish(self, uri: str) -> None:
        """Publish the diagnostics of ``uri``'s current text, unless they were already published."""
        doc = self.documents.get(uri)
        if doc is None:
            return
        try:
            check = self.documents.check(uri)
            if self._published.get(uri) == (doc.version, check):
                return
            diagnostics = for_document(check.diagnostics, check.data.loaded, self.source_map(doc, check))
        except Exception as err:  # noqa: BLE001 - a bug in Lane: say so, keep serving
            self.report_fault(f"checking {doc.file}")
            check, diagnostics = None, [_internal(err)]
        self._published[uri] = (doc.version, check)
        try:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version))
        except Exception:  # noqa: BLE001 - runs from a timer: nobody above to catch it
            self.report_fault(f"publishing the diagnostics of {doc.file}")

    def clear(self, uri: str) -> None:
        self._published.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _internal(err: Exception) -> types.Diagnostic:
    start = types.Position(line=0, character=0)
    return types.Diagnostic(
        range=types.Range(start=start, end=start), severity=types.DiagnosticSeverity.Error, source=SOURCE,
        code="internal", message=f"internal error while checking: {type(err).__name__}: {err}\n"
                                 "This is a bug in Lane, not in your contract; the server's log has the details.")


def guarded(fallback=None) -> Callable:
    """Make a handler return ``fallback`` and log the fault instead of raising."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(ls: LaneServer, params):
            try:
                return handler(ls, params)
            except Exception:  # noqa: BLE001 - the server must outlive any bug
                ls.report_fault(handler.__name__.replace("_", " "))
                return fallback

        return run

    return wrap


# ---------------------------------------------------------------- handlers

@guarded()
def did_open(ls: LaneServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    ls.documents.open(item.uri, item.text, item.version)
    ls.schedule(item.uri, delay=0)


@guarded()
def did_change(ls: LaneServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    # pygls has applied the changes to its copy, whole or incremental.
    text = ls.workspace.get_text_document(uri).source
    if ls.documents.change(uri, text, params.text_document.version) is None:
        ls.documents.open(uri, text, params.text_document.version)
    ls.schedule(uri)


@guarded()
def did_close(ls: LaneServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    dependents = ls.documents.dependents(uri)
    ls.debouncer.cancel(uri)
    ls.documents.close(uri)
    ls.clear(uri)
    for other in dependents:  # they now read the file from disk
        ls.debouncer.schedule(other)


def _target(ls: LaneServer, uri: str, position: types.Position):
    """The document's check, its line index and the occurrence at ``position`` (or Nones)."""
    doc = ls.documents.get(uri)
    check = ls.documents.check(uri) if doc is not None else None
    program = check.data.checked if check is not None else None
    module = next((m for m in check.data.loaded.modules if m.file == doc.file), None) if check else None
    if program is None or module is None:
        return None, None, None
    index = LineIndex(doc.text, ls.encoding)
    return check, index, at(module, program, *index.lane_position(position))


@guarded()
def hover(ls: LaneServer, params: types.HoverParams) -> types.Hover | None:
    check, index, occ = _target(ls, params.text_document.uri, params.position)
    if occ is None:
        return None
    text = hover_markdown(occ.meaning, check.data)
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=index.range(occ.loc))


@guarded()
def definition(ls: LaneServer, params: types.DefinitionParams) -> types.Location | None:
    check, _, occ = _target(ls, params.text_document.uri, params.position)
    if occ is None:
        return None
    where = declaration(occ.meaning, check.data.checked)
    if where is None:
        return None
    return ls.source_map(ls.documents.get(params.text_document.uri), check).location(where)


@guarded(fallback=[])
def symbols(ls: LaneServer, params: types.DocumentSymbolParams) -> list:
    uri = params.text_document.uri
    doc = ls.documents.get(uri)
    if doc is None:
        return []
    ls.documents.check(uri)
    if doc.outline is None:
        return []
    tree = document_symbols(doc.outline, LineIndex(doc.text, ls.encoding))
    capability = ls.client_capabilities.text_document
    capability = capability.document_symbol if capability is not None else None
    if capability is not None and capability.hierarchical_document_symbol_support:
        return tree
    return flat_symbols(tree, uri)


HANDLERS = {
    types.TEXT_DOCUMENT_DID_OPEN: did_open,
    types.TEXT_DOCUMENT_DID_CHANGE: did_change,
    types.TEXT_DOCUMENT_DID_CLOSE: did_close,
    types.TEXT_DOCUMENT_HOVER: hover,
    types.TEXT_DOCUMENT_DEFINITION: definition,
    types.TEXT_DOCUMENT_DOCUMENT_SYMBOL: symbols,
}


def make_server(debounce: float = DEBOUNCE_SECONDS) -> LaneServer:
    server = LaneServer(debounce)
    for method, handler in HANDLERS.items():
        server.feature(method)(handler)
    return server


def serve() -> None:
    """Serve one client on stdin and stdout until it says exit."""
    make_server().start_io()
