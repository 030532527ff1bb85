"""The language server: Lane's checker, hovers, definitions and outline over LSP (pygls, stdio).

Diagnostics are those of ``lane check``, published with the document's version
after typing pauses (:mod:`.debounce`, one timer per document), again for every
open document that imports a changed one, and cleared when a document closes.

No check runs on the event loop: each runs in a worker process (:mod:`.workers`)
and returns the document's :class:`~.facts.Facts`.  A newer text cancels the
check of the older one (its worker is killed), and a check that runs past the
time limit is stopped and publishes one ``timeout`` diagnostic.  Hovers,
definitions and outlines are answered from the facts of the document's current
text; one that comes while that text is being checked waits for the check,
never beyond the time limit, while everything else goes on.

Every handler is guarded: an exception inside one, on any half-typed text, is
logged to the client (``window/logMessage``) as a bug in Lane and the server
goes on serving; a failed check is shown as an ``internal`` diagnostic.  A
request about a document that is not open is answered with InvalidParams.
"""

from __future__ import annotations

import asyncio
import functools
import traceback
from typing import Callable

from lsprotocol import types
from pygls.exceptions import FeatureRequestError, JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from .. import __version__
from .debounce import Debouncer
from .documents import Document, Documents
from .facts import CheckRequest, Facts, check_document, failed, too_slow
from .outline import flat_symbols
from .positions import UTF16, LineIndex
from .stdio import serve_stdio
from .workers import CHECK_SECONDS, WORKERS, JobTimeout, WorkerPool

DEBOUNCE_SECONDS = 0.25
_RECHECKS = 3  # checks in a row whose inputs changed under them before their facts are taken anyway


class LaneServer(LanguageServer):
    """A pygls server that knows the open documents, checks them in workers, and answers from their facts."""

    def __init__(self, debounce: float = DEBOUNCE_SECONDS, time_limit: float = CHECK_SECONDS,
                 workers: int = WORKERS) -> None:
        super().__init__("lane", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.documents = Documents()
        self.debouncer = Debouncer(self.check, debounce)
        self.time_limit = time_limit
        self.pool = WorkerPool(check_document, size=workers, time_limit=time_limit,
                               preload=("compiler.lsp.warm",))
        self._published: dict[str, tuple[int | None, Facts | None]] = {}
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._rechecks: dict[str, int] = {}
        self.closed = False

    @property
    def encoding(self) -> str:
        """The position encoding agreed with the client (UTF-16 unless it offered another)."""
        try:
            encoding = self.workspace.position_encoding
        except (RuntimeError, AttributeError):  # not initialised yet
            return UTF16
        return str(getattr(encoding, "value", encoding) or UTF16)

    def report_fault(self, what: str, details: str | None = None) -> None:
        """Log the exception being handled (or ``details``) as a bug in Lane; never raises."""
        self.log(types.MessageType.Error, f"internal error in {what} (a bug in Lane, not in your contract):\n"
                                          f"{details if details is not None else traceback.format_exc()}")

    def log(self, kind: types.MessageType, message: str) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # noqa: BLE001 - the client went away: nothing left to tell
            pass

    def report_server_error(self, error: Exception, source) -> None:
        # What pygls could not serve (a didChange of a document never opened, ...): the client's mistake,
        # so a line in the log rather than pygls's default pop-up.  A request's error is in its answer.
        if source is FeatureRequestError:
            return
        self.log(types.MessageType.Warning, f"lane lsp: ignored a message: {error}")

    def require(self, uri: str) -> Document:
        """The open document ``uri``, or the InvalidParams error its request gets."""
        doc = self.documents.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(f"Invalid params: {uri} is not open (textDocument/didOpen it first)")
        return doc

    # ------------------------------------------------------------ checking
    def schedule(self, uri: str, delay: float | None = None) -> None:
        """Check ``uri`` once typing pauses, and every open document that imports it."""
        for other in [uri, *self.documents.dependents(uri)]:
            self.pool.cancel(other)  # it reads a text that is gone
            self.debouncer.schedule(other, delay if other == uri else None)

    def check(self, uri: str) -> None:
        """Start checking ``uri``'s current text in a worker, unless the facts it has still hold."""
        doc = self.documents.get(uri)
        if doc is None or self.closed:
            return
        if doc.final and self.documents.holds(doc.facts):
            self.publish(doc)
            return
        request = CheckRequest(uri, doc.file, dict(self.documents.overlays), self.encoding, self.time_limit)
        job = self.pool.submit(uri, request, on_progress=functools.partial(self._progress, uri))
        job.future.add_done_callback(functools.partial(self._finished, uri, request))

    def _progress(self, uri: str, facts: Facts) -> None:
        """The first step of a check: its facts without the access analysis."""
        doc = self.documents.get(uri)
        if doc is not None and self.documents.holds(facts):
            doc.facts, doc.final = facts, False
            doc.outline = facts.outline if facts.outline is not None else doc.outline
            self._wake(uri)

    def _finished(self, uri: str, request: CheckRequest, future: asyncio.Future) -> None:
        try:
            doc = self.documents.get(uri)
            if future.cancelled() or doc is None:
                return
            error = future.exception()
            if error is None:
                facts = future.result()
            elif isinstance(error, JobTimeout):
                front = doc.facts if not doc.final and self.documents.holds(doc.facts) else None
                facts = too_slow(request, doc.path, front)
            else:
                self.report_fault(f"checking {doc.file}", str(error))
                facts = failed(request, doc.path, str(error).strip().splitlines()[-1])
            for fault in facts.faults:
                self.report_fault(f"checking {doc.file}", fault)
            if not self.documents.holds(facts) and self._rechecks.get(uri, 0) < _RECHECKS:
                # A file it read changed while it ran (one that was not open, or a race): again.
                self._rechecks[uri] = self._rechecks.get(uri, 0) + 1
                self.check(uri)
                return
            self._rechecks.pop(uri, None)
            doc.facts, doc.final = facts, True
            doc.outline = facts.outline if facts.outline is not None else doc.outline
            self.publish(doc)
        except Exception:  # noqa: BLE001 - runs from a callback: nobody above to catch it
            self.report_fault(f"finishing the check of {uri}")
        finally:
            self._wake(uri)

    def publish(self, doc: Document) -> None:
        """Publish the diagnostics of ``doc``'s facts, unless they were already published for its version."""
        if self._published.get(doc.uri) == (doc.version, doc.facts) or doc.facts is None:
            return
        self._published[doc.uri] = (doc.version, doc.facts)
        try:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=doc.uri, diagnostics=doc.facts.diagnostics, version=doc.version))
        except Exception:  # noqa: BLE001 - runs from a callback: nobody above to catch it
            self.report_fault(f"publishing the diagnostics of {doc.file}")

    def clear(self, uri: str) -> None:
        self._published.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    async def facts(self, uri: str, *, complete: bool) -> Facts | None:
        """The facts of ``uri``'s current text, once its check has them; None if it never does in time.

        ``complete``: wait for the check to end (hovers show the analysis); otherwise its first step is
        enough (definitions, the outline).
        """
        loop = asyncio.get_running_loop()
        # Long enough to wait for a worker to be free and then for the check itself.
        deadline = loop.time() + 2 * self.time_limit + 5
        while True:
            doc = self.require(uri)
            if self.documents.holds(doc.facts) and (doc.final or not complete):
                return doc.facts
            if self.closed:
                return None
            if self.pool.job(uri) is None:  # waiting for its timer, or never checked: check it now
                self.debouncer.cancel(uri)
                self.check(uri)
                if self.documents.holds(doc.facts) and doc.final:
                    return doc.facts  # they held after all (and are published now)
            # Whatever ends the check (a result, a time-out, a fault, a newer text) wakes us.
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            waiter = loop.create_future()
            self._waiters.setdefault(uri, []).append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass

    def _wake(self, uri: str) -> None:
        for waiter in self._waiters.pop(uri, []):
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Stop checking: cancel every check, kill the workers, wake every request still waiting."""
        self.closed = True
        self.debouncer.clear()
        self.pool.close()
        for uri in list(self._waiters):
            self._wake(uri)


def guarded(fallback=None) -> Callable:
    """Make a handler return ``fallback`` and log the fault instead of raising.

    A JSON-RPC error (InvalidParams for a document that is not open) is the client's to get: it passes.
    """

    def wrap(handler: Callable) -> Callable:
        what = handler.__name__.replace("_", " ")
        if asyncio.iscoroutinefunction(handler):
            @functools.wraps(handler)
            async def run_async(ls: LaneServer, params):
                try:
                    return await handler(ls, params)
                except JsonRpcException:
                    raise
                except Exception:  # noqa: BLE001 - the server must outlive any bug
                    ls.report_fault(what)
                    return fallback

            return run_async

        @functools.wraps(handler)
        def run(ls: LaneServer, params):
            try:
                return handler(ls, params)
            except JsonRpcException:
                raise
            except Exception:  # noqa: BLE001 - the server must outlive any bug
                ls.report_fault(what)
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
    ls.pool.cancel(uri)
    ls.documents.close(uri)
    ls.clear(uri)
    ls._wake(uri)  # a request waiting for its facts gets its answer: the document is not open
    for other in dependents:  # they now read the file from disk
        ls.schedule(other)


@guarded()
def shutdown(ls: LaneServer, params) -> None:
    ls.close()


async def _name_at(ls: LaneServer, uri: str, position: types.Position, complete: bool):
    """The facts' name at ``position`` with what it means, and the line index of the text (or Nones)."""
    facts = await ls.facts(uri, complete=complete)
    doc = ls.documents.get(uri)
    if facts is None or doc is None:
        return None, None, None
    index = LineIndex(doc.text, ls.encoding)
    name = facts.at(*index.lane_position(position))
    if name is None:
        return None, None, None
    return name, facts.meaning(name.meaning), index


@guarded()
async def hover(ls: LaneServer, params: types.HoverParams) -> types.Hover | None:
    name, meaning, index = await _name_at(ls, params.text_document.uri, params.position, complete=True)
    if meaning is None or meaning.hover is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=meaning.hover),
                       range=index.range(name.loc))


@guarded()
async def definition(ls: LaneServer, params: types.DefinitionParams) -> types.Location | None:
    _, meaning, _ = await _name_at(ls, params.text_document.uri, params.position, complete=False)
    return meaning.declaration if meaning is not None else None


@guarded(fallback=[])
async def symbols(ls: LaneServer, params: types.DocumentSymbolParams) -> list:
    uri = params.text_document.uri
    await ls.facts(uri, complete=False)
    tree = ls.require(uri).outline
    if tree is None:
        return []
    text_document = ls.client_capabilities.text_document
    capability = text_document.document_symbol if text_document is not None else None
    if capability is not None and capability.hierarchical_document_symbol_support:
        return tree
    return flat_symbols(tree, uri)


HANDLERS = {
    types.TEXT_DOCUMENT_DID_OPEN: did_open,
    types.TEXT_DOCUMENT_DID_CHANGE: did_change,
    types.TEXT_DOCUMENT_DID_CLOSE: did_close,
    types.SHUTDOWN: shutdown,
    types.TEXT_DOCUMENT_HOVER: hover,
    types.TEXT_DOCUMENT_DEFINITION: definition,
    types.TEXT_DOCUMENT_DOCUMENT_SYMBOL: symbols,
}


def make_server(debounce: float = DEBOUNCE_SECONDS, time_limit: float = CHECK_SECONDS,
                workers: int = WORKERS) -> LaneServer:
    server = LaneServer(debounce, time_limit, workers)
    for method, handler in HANDLERS.items():
        server.feature(method)(handler)
    return server


def serve(time_limit: float = CHECK_SECONDS) -> int:
    """Serve one client on stdin and stdout until it exits or goes away; the exit status."""
    server = make_server(time_limit=time_limit)
    # The workers' fork server starts (a second of imports) while the editor starts up too.
    return serve_stdio(server, starting=server.pool.prepare)
