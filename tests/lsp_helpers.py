"""Driving ``lane lsp`` over stdio: with pytest-lsp (the server command and a diagnostics log), and in raw bytes.

The server is the ``lane`` command itself (``python -m compiler lsp``), a
subprocess that inherits this process's environment (the suite's
LANE_CACHE_DIR included).  Tests wait for notifications, never sleep.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from compiler.lsp.framing import Framer, Message

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


# ------------------------------------------------ raw bytes: the server as an editor that misbehaves sees it

class RawServer:
    """``lane lsp`` as a subprocess, written to in raw bytes; what it sends is read into a queue.

    ``request`` sends a well-formed request and waits for the response with its id; ``send`` writes
    any bytes at all.  Every wait is bounded by :data:`TIMEOUT`.  Its stderr goes to a file, so
    that a server that logs a lot never blocks on a full pipe.
    """

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "compiler", "lsp", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, cwd=cwd)
        self.received: queue.Queue = queue.Queue()
        self.seen: list[dict] = []  # everything taken off the queue so far, in order
        self._ids = itertools.count(1000)

        self.noise: list = []  # whatever on its stdout is not a well-formed message: must stay empty

        def read() -> None:
            framer = Framer()
            while data := self.proc.stdout.read1(65536):
                for event in framer.feed(data):
                    if isinstance(event, Message):
                        self.received.put(event.value)
                    else:
                        self.noise.append(event)
            self.received.put(None)  # the server closed its stdout

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def message(self, payload: dict) -> bytes:
        body = json.dumps({"jsonrpc": "2.0", **payload}).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def notify(self, method: str, params: object = None) -> None:
        self.send(self.message({"method": method, **({"params": params} if params is not None else {})}))

    def request_bytes(self, method: str, params: object = None, msg_id: object = None) -> tuple[object, bytes]:
        msg_id = next(self._ids) if msg_id is None else msg_id
        payload = {"id": msg_id, "method": method, **({"params": params} if params is not None else {})}
        return msg_id, self.message(payload)

    def request(self, method: str, params: object = None, prefix: bytes = b"") -> dict:
        """Send ``prefix`` (any bytes) and then a request; its response."""
        msg_id, data = self.request_bytes(method, params)
        self.send(prefix + data)
        return self.wait(lambda m: m.get("id") == msg_id and "method" not in m)

    def wait(self, accept, timeout: float = TIMEOUT) -> dict:
        """The first message (seen before or arriving now) that ``accept`` takes; AssertionError after ``timeout``."""
        for message in self.seen:
            if accept(message):
                self.seen.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.received.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"no such message from the server within {timeout} s") from None
            if message is None:
                self.received.put(None)
                raise AssertionError(f"the server closed its output (exit status {self.proc.poll()})")
            if accept(message):
                return message
            self.seen.append(message)

    def published(self, uri: str, version: object = ANY, timeout: float = TIMEOUT) -> dict:
        return self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                         and m["params"]["uri"] == uri and (version is ANY or m["params"].get("version") == version),
                         timeout)["params"]

    def initialize(self) -> dict:
        result = self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, version: int = 1) -> str:
        doc = uri(path)
        self.notify("textDocument/didOpen", {"textDocument": {"uri": doc, "languageId": "lane", "version": version,
                                                               "text": text}})
        return doc

    def change(self, doc: str, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": doc, "version": version},
                                               "contentChanges": [{"text": text}]})

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def descendants(self) -> list[int]:
        """The processes the server started, directly or not (its workers and their fork server); Linux only."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.proc.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def close(self) -> None:
        """Kill the server if it still runs (a test that wants it to exit by itself checks that first)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)  # the server's stdout ends with it: no other process holds it
        assert not self._reader.is_alive(), "the server's stdout is still open after it ended"
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()
