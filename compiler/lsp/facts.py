"""What the server knows about one text of a document, computed in a worker process.

A check (:func:`check_document`, run by :mod:`.workers`) parses and checks the
document with the buffers open in the editor, and returns :class:`Facts`:
the diagnostics of ``lane check`` (as LSP diagnostics), the outline, and every
name of the file with its hover text and the place it is declared.  The
server answers hovers, definitions and outlines from the facts of the current
text alone, so it never parses or analyses anything itself and a slow check
never holds up its event loop.

A program without errors is checked in two steps: the facts without the
access analysis are sent ahead as progress, then the complete ones.  When the
analysis takes longer than the time limit, the server keeps the first ones:
definitions and the outline still work, and hovers say the analysis did not
finish.
"""

from __future__ import annotations

import dataclasses
import traceback
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lsprotocol import types
from pygls.uris import from_fs_path

from ..diagnostics import Diagnostic, LaneError, Location
from ..pipeline import CompilerData
from ..semantics.checker import CheckedProgram
from ..semantics.loader import SourceCache
from .diagnostics import SOURCE, for_document
from .hover import FAILED, TOO_SLOW, hover_markdown
from .lookup import declaration, innermost, occurrences
from .outline import document_symbols
from .positions import LineIndex, SourceMap


@dataclass(frozen=True)
class CheckRequest:
    """What a worker needs to check one document: everything travels with it."""

    uri: str
    file: str  # Lane's name of the file
    overlays: dict[Path, str]  # the text of every open document, by resolved path
    encoding: str  # of LSP positions
    time_limit: float  # what a hover says when the analysis does not finish in time


@dataclass(frozen=True, slots=True)
class Name:
    """A name in the document (1-based Lane span) and the index of what it means (:meth:`Facts.meaning`)."""

    loc: Location
    meaning: int


@dataclass(frozen=True, slots=True)
class Meaning:
    hover: str | None  # Markdown
    declaration: types.Location | None


@dataclass(eq=False)
class Facts:
    """The server's picture of one text of a document (see the module's docstring).

    Names and meanings travel as flat arrays and tuples of plain values: a file of some
    megabytes has hundreds of thousands of names, and the server unpickles them on its event
    loop, where one object each would cost seconds.
    """

    # Every file the check read, by resolved path, with the text it read (None: an import it could not read).
    inputs: dict[Path, str | None]
    diagnostics: list[types.Diagnostic]
    outline: list[types.DocumentSymbol] | None  # None: the document does not parse
    faults: list[str] = field(default_factory=list)  # tracebacks of bugs in Lane met on the way
    file: str = ""  # Lane's name of the document's file
    # Five integers per name: line, column, end line, end column, meaning.
    _spans: array = field(default_factory=lambda: array("q"))
    _hovers: list[str | None] = field(default_factory=list)
    # Each meaning's declaration: the URI and LSP range (start line, start character, end line, end character).
    _declarations: list[tuple[str, int, int, int, int] | None] = field(default_factory=list)
    _by_line: dict[int, list[Name]] | None = field(default=None, repr=False)

    def add_name(self, loc: Location, meaning: int) -> None:
        self._spans.extend((loc.line, loc.column, loc.end_line, loc.end_column, meaning))

    def add_meaning(self, hover: str | None, declaration: types.Location | None) -> int:
        self._hovers.append(hover)
        if declaration is None:
            self._declarations.append(None)
        else:
            start, end = declaration.range.start, declaration.range.end
            self._declarations.append((declaration.uri, start.line, start.character, end.line, end.character))
        return len(self._hovers) - 1

    @property
    def names(self) -> int:
        return len(self._spans) // 5

    def at(self, line: int, column: int) -> Name | None:
        """The name at Lane's 1-based ``line`` and ``column``."""
        if self._by_line is None:  # built on first use, in the server: a hover looks at one line
            self._by_line = {}
            spans = self._spans
            for i in range(0, len(spans), 5):
                name = Name(Location(self.file, *spans[i:i + 4]), spans[i + 4])
                for row in range(name.loc.line, name.loc.end_line + 1):
                    self._by_line.setdefault(row, []).append(name)
        return innermost(self._by_line.get(line, ()), line, column)

    def meaning(self, index: int) -> Meaning:
        place = self._declarations[index]
        declaration = None
        if place is not None:
            uri, start_line, start_char, end_line, end_char = place
            declaration = types.Location(uri=uri, range=types.Range(
                start=types.Position(line=start_line, character=start_char),
                end=types.Position(line=end_line, character=end_char)))
        return Meaning(self._hovers[index], declaration)


# ------------------------------------------------------------------ in the worker

# Kept between the checks a worker runs: each document's cache of parsed files, over one table of buffers.
_OVERLAYS: dict[Path, str] = {}
_CACHES: dict[str, SourceCache] = {}
_MAX_CACHES = 64


def check_document(request: CheckRequest, progress: Callable[[Facts], None]) -> Facts:
    """Check the document of ``request``: its facts; the facts without the analysis go to ``progress`` first."""
    _OVERLAYS.clear()
    _OVERLAYS.update(request.overlays)
    cache = _CACHES.pop(request.uri, None) or SourceCache(overlays=_OVERLAYS)
    _CACHES[request.uri] = cache  # most recently used last
    while len(_CACHES) > _MAX_CACHES:
        del _CACHES[next(iter(_CACHES))]
    data = CompilerData(request.file, cache)
    if not data.ok:  # parsed and checked: errors, or none and the analysis to run
        return _facts(request, data, data.diagnostics())
    # Sent ahead, and kept by the server if the analysis runs out of time: hovers say so.
    progress(_facts(request, data, data.diags.sorted(), TOO_SLOW.format(limit=request.time_limit)))
    try:
        diagnostics = data.diagnostics()  # the analysis: hot-spot warnings
    except LaneError as err:  # an analysis that refuses the program (a limit) says why as an error
        return _facts(request, data, data.diags.sorted() + list(err.diagnostics), FAILED)
    return _facts(request, data, diagnostics)


def _facts(request: CheckRequest, data: CompilerData, diags: list[Diagnostic],
           no_analysis: str | None = None) -> Facts:
    """The facts of a checked text; ``no_analysis`` says why hovers show no access analysis, if they do not."""
    loaded = data.loaded

    def uri_of(file: str) -> str:
        return request.uri if file == request.file else (from_fs_path(file) or file)

    places = SourceMap(loaded.sources, uri_of, request.encoding)
    facts = Facts(inputs=_inputs(data), diagnostics=for_document(diags, loaded, places), outline=None,
                  file=request.file)
    own = next((m for m in loaded.modules if m.file == request.file), None)
    if own is None:
        return facts
    facts.outline = document_symbols(own, LineIndex(loaded.sources.get(request.file, ""), request.encoding))
    program = data.checked
    if program is None:
        return facts
    index: dict[int, int] = {}
    for occ in occurrences(own, program):
        key = id(occ.meaning)
        if key not in index:
            index[key] = _add_meaning(facts, occ.meaning, data, program, places, no_analysis)
        facts.add_name(occ.loc, index[key])
    return facts


def _add_meaning(facts: Facts, meaning: object, data: CompilerData, program: CheckedProgram,
                 places: SourceMap, no_analysis: str | None) -> int:
    try:
        hover = hover_markdown(meaning, data, no_analysis)
    except Exception:  # noqa: BLE001 - one bad hover must not cost the whole file its facts
        facts.faults.append(traceback.format_exc())
        hover = None
    where = declaration(meaning, program)
    return facts.add_meaning(hover, places.location(where) if where is not None else None)


def _inputs(data: CompilerData) -> dict[Path, str | None]:
    loaded = data.loaded
    inputs: dict[Path, str | None] = {path: loaded.sources[name] for name, path in loaded.paths.items()}
    for module in loaded.modules:  # files it tried to import, even missing ones: opening one re-checks
        base = loaded.paths[module.file].parent
        for imp in module.imports:
            try:
                inputs.setdefault((base / imp.path).resolve(), None)
            except (ValueError, OSError):
                continue
    return inputs


# ------------------------------------------------------------------ in the server

def too_slow(request: CheckRequest, path: Path, front: Facts | None) -> Facts:
    """The facts of a check that ran out of time: those it sent ahead, if any, and one diagnostic that says so."""
    start = types.Position(line=0, character=0)
    limit = f"{request.time_limit:g}"
    diagnostic = types.Diagnostic(
        range=types.Range(start=start, end=start), severity=types.DiagnosticSeverity.Warning, source=SOURCE,
        code="timeout",
        message=f"checking this file took longer than the time limit ({limit} s): it was stopped, so its "
                f"diagnostics are not shown\nhint: `lane check {request.file}` checks it without a time limit")
    if front is None:
        return Facts(inputs={path: request.overlays.get(path)}, diagnostics=[diagnostic], outline=None,
                     file=request.file)
    return dataclasses.replace(front, diagnostics=[*front.diagnostics, diagnostic], _by_line=None)


def failed(request: CheckRequest, path: Path, why: str) -> Facts:
    """The facts of a check that failed (a bug in Lane): one ``internal`` diagnostic."""
    start = types.Position(line=0, character=0)
    diagnostic = types.Diagnostic(
        range=types.Range(start=start, end=start), severity=types.DiagnosticSeverity.Error, source=SOURCE,
        code="internal", message=f"internal error while checking: {why}\n"
                                 "This is a bug in Lane, not in your contract; the server's log has the details.")
    return Facts(inputs={path: request.overlays.get(path)}, diagnostics=[diagnostic], outline=None,
                 file=request.file)
