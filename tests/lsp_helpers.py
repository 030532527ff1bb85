"""Driving ``lane lsp`` over stdio with pytest-lsp: the server command and a diagnostics log.

The server is the ``lane`` command itself (``python -m compiler lsp``), a
subprocess that inherits this process's environment (the suite's
LANE_CACHE_DIR included).  Tests wait for notifications, never sleep.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "compiler", "lsp"])
TIMEOUT = 60.0  # seconds; a guard against a hang, never a wait for something to happen
ANY = object()


def uri(path: Path) -> str:
    return from_fs_path(str(path))


class Published:
    """Every ``textDocument/publishDiagnostics`` the client receives, in order.

    It listens through pytest-lsp's ``wait_for_notification``, re-arming the wait
    from inside the callback, so no notification is lost between two waits.
    Take a :meth:`mark` before acting, then :meth:`wait` for what follows it.
    """

    def __init__(self, client: LanguageClient) -> None:
        self._client = client
        self.received: list[types.PublishDiagnosticsParams] = []
        self._arrived = asyncio.Event()
        self._listen()

    def _listen(self) -> None:
        future = self._client.protocol.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        future.add_done_callback(self._on)

    def _on(self, future) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the server has exited
        self._listen()
        self.received.append(future.result())
        self._arrived.set()

    def mark(self) -> int:
        return len(self.received)

    def since(self, mark: int, uri: str) -> list[types.PublishDiagnosticsParams]:
        return [p for p in self.received[mark:] if p.uri == uri]

    async def wait(self, uri: str, since: int, version=ANY) -> types.PublishDiagnosticsParams:
        """The first notification for ``uri`` after ``since`` (with ``version``, when given)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            for params in self.received[since:]:
                if params.uri == uri and (version is ANY or params.version == version):
                    return params
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), max(deadline - loop.time(), 0.001))


async def start(client: LanguageClient, editor: str = "visual-studio-code") -> tuple[Published, str]:
    """Initialise a session as ``editor`` would: a log that sees every diagnostic from then on, and the
    position encoding the server chose from the editor's offer (VS Code offers only UTF-16)."""
    published = Published(client)
    result = await client.initialize_session(types.InitializeParams(capabilities=client_capabilities(editor)))
    encoding = result.capabilities.position_encoding or types.PositionEncodingKind.Utf16
    return published, str(getattr(encoding, "value", encoding))


def code_units(text: str, encoding: str) -> int:
    """The length of ``text`` in the code units of an LSP position encoding."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text.encode("utf-8"))


def open_document(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    """Open ``path`` in the editor, with ``text`` (an unsaved buffer) or its contents."""
    doc_uri = uri(path)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=doc_uri, language_id="lane", version=version, text=path.read_text() if text is None else text)))
    return doc_uri


def change_document(client: LanguageClient, doc_uri: str, text: str, version: int) -> None:
    """Replace the whole text of an open document, as a full-sync editor does."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=doc_uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def close_document(client: LanguageClient, doc_uri: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=doc_uri)))


def position_of(text: str, needle: str, occurrence: int = 0, offset: int = 0) -> types.Position:
    """The LSP position (0-based line, UTF-16 column) of ``needle``'s ``occurrence``, plus ``offset`` characters."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    return types.Position(line=line, character=code_units(text[start:index], "utf-16"))
