"""The documents open in the editor, and the last facts the server has of each.

An open document's text overrides its file on disk for every check, so a file
that imports it sees its unsaved text.  Checks run in worker processes
(:mod:`.facts`); each document keeps the facts of its last check and knows
whether they still hold: they do while every file that check read has the
same text now.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from pygls.uris import to_fs_path

from ..semantics.loader import display_name
from ..limits import MAX_SOURCE_BYTES
from .facts import Facts


def path_of_uri(uri: str) -> str:
    """The file a URI names; a URI of another scheme (an unsaved buffer) gets a made-up absolute path."""
    path = to_fs_path(uri)
    if path is not None:
        return display_name(os.path.abspath(path))
    parsed = urlparse(uri)
    name = os.path.basename(unquote(parsed.path)) or "untitled.lane"
    return display_name(os.path.join(os.path.abspath(os.sep), parsed.scheme or "untitled", name))


@dataclass(eq=False)
class Document:
    uri: str
    file: str                # Lane's name of the file: the absolute, normalised path
    path: Path               # resolved, as the loader resolves imports
    text: str
    version: int | None
    facts: Facts | None = None  # of the last check (or of the first step of the running one)
    final: bool = False         # whether ``facts`` are a check's last word: complete, or all it could do
    outline: list | None = None  # the outline of the last text that parsed


class Documents:
    """Open documents by URI, and the buffers that override the disk."""

    def __init__(self) -> None:
        self.overlays: dict[Path, str] = {}
        self._docs: dict[str, Document] = {}

    def __iter__(self):
        return iter(list(self._docs.values()))

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def open(self, uri: str, text: str, version: int | None) -> Document:
        file = path_of_uri(uri)
        path = Path(file).resolve()
        doc = Document(uri, file, path, text, version)
        self._docs[uri] = doc
        self.overlays[path] = text
        return doc

    def change(self, uri: str, text: str, version: int | None) -> Document | None:
        doc = self._docs.get(uri)
        if doc is None:
            return None
        doc.text, doc.version = text, version
        self.overlays[doc.path] = text
        return doc

    def close(self, uri: str) -> Document | None:
        doc = self._docs.pop(uri, None)
        if doc is not None and not any(d.path == doc.path for d in self._docs.values()):
            self.overlays.pop(doc.path, None)
        return doc

    def dependents(self, uri: str) -> list[str]:
        """Open documents whose last check read (or tried to import) the file of ``uri``."""
        doc = self._docs.get(uri)
        if doc is None:
            return []
        return [d.uri for d in self._docs.values()
                if d.uri != uri and d.facts is not None and doc.path in d.facts.inputs]

    def holds(self, facts: Facts | None) -> bool:
        """Whether ``facts`` are about the texts as they are now: every file they read is unchanged."""
        return facts is not None and all(self._current_text(path, text) == text for path, text in facts.inputs.items())

    def _current_text(self, path: Path, then: str | None) -> str | None:
        if path in self.overlays:
            return self.overlays[path]
        try:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SOURCE_BYTES:
                # A device, a pipe or a file the loader refuses: reading it could block the server or
                # never end, and the check read it through its own limits; take it as unchanged.
                return then
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            return None
