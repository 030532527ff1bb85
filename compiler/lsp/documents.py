"""The documents open in the editor and the last check of each.

An open document's text overrides its file on disk for every check, so a file
that imports it sees its unsaved text.  Each document keeps its own
:class:`~compiler.semantics.loader.SourceCache` (its imports are parsed once
and annotated only by its own checks) over one shared table of open buffers.
A document is checked again only when its text, or the text of a file it
imports, has changed since its last check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from pygls.uris import to_fs_path

from ..diagnostics import Diagnostic
from ..pipeline import CompilerData
from ..semantics.loader import SourceCache, display_name
from ..syntax import ast


def path_of_uri(uri: str) -> str:
    """The file a URI names; a URI of another scheme (an unsaved buffer) gets a made-up absolute path."""
    path = to_fs_path(uri)
    if path is not None:
        return display_name(os.path.abspath(path))
    parsed = urlparse(uri)
    name = os.path.basename(unquote(parsed.path)) or "untitled.lane"
    return display_name(os.path.join(os.path.abspath(os.sep), parsed.scheme or "untitled", name))


@dataclass(eq=False)
class Check:
    """One check of a document: the compiler's phases and the diagnostics of ``lane check``."""

    data: CompilerData
    diagnostics: list[Diagnostic]
    # Every file it read, by resolved path, with the text it read (None: an import it could not read).
    inputs: dict[Path, str | None]


@dataclass(eq=False)
class Document:
    uri: str
    file: str                # Lane's name of the file: the absolute, normalised path
    path: Path               # resolved, as the loader resolves imports
    text: str
    version: int | None
    cache: SourceCache
    last: Check | None = None
    outline: ast.Module | None = None  # the module of the last text that parsed, for the outline


class Documents:
    """Open documents by URI, and the buffers that override the disk."""

    def __init__(self) -> None:
        self.overlays: dict[Path, str] = {}
        self._docs: dict[str, Document] = {}

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def open(self, uri: str, text: str, version: int | None) -> Document:
        file = path_of_uri(uri)
        path = Path(file).resolve()
        doc = Document(uri, file, path, text, version, SourceCache(overlays=self.overlays))
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
                if d.uri != uri and d.last is not None and doc.path in d.last.inputs]

    def stale(self, uri: str) -> bool:
        """Whether a file that the last check of ``uri`` read has another text now."""
        doc = self._docs.get(uri)
        if doc is None or doc.last is None:
            return True
        return any(self._current_text(path) != text for path, text in doc.last.inputs.items())

    def check(self, uri: str) -> Check | None:
        """The document's check for its current text: the last one if nothing changed, else a new one."""
        doc = self._docs.get(uri)
        if doc is None:
            return None
        if not self.stale(uri):
            return doc.last
        data = CompilerData(doc.file, doc.cache)
        diagnostics = data.diagnostics()
        loaded = data.loaded
        inputs: dict[Path, str | None] = {path: loaded.sources[name] for name, path in loaded.paths.items()}
        for module in loaded.modules:  # files it tried to import, even missing ones: opening one re-checks
            base = loaded.paths[module.file].parent
            for imp in module.imports:
                try:
                    inputs.setdefault((base / imp.path).resolve(), None)
                except (ValueError, OSError):
                    continue
        doc.last = Check(data, diagnostics, inputs)
        own = next((m for m in loaded.modules if m.file == doc.file), None)
        if own is not None:
            doc.outline = own
        return doc.last

    def _current_text(self, path: Path) -> str | None:
        if path in self.overlays:
            return self.overlays[path]
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            return None
