"""Lane locations to LSP positions and back: the only place that converts.

Lane counts lines and columns from 1, columns in characters (code points), and
splits lines at ``'\\n'`` only, as its lexer does.  LSP counts both from 0, and
columns in code units of the encoding agreed at initialisation: UTF-16 unless
the client offered another.  A ``'\\r'`` before the ``'\\n'`` is not part of the
line for either.
"""

from __future__ import annotations

from typing import Callable, Mapping

from lsprotocol import types

from ..diagnostics import Location

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def code_units(text: str, encoding: str = UTF16) -> int:
    """The length of ``text`` in code units of ``encoding``."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class LineIndex:
    """The lines of one text, to convert positions in both directions."""

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.lines = [line.removesuffix("\r") for line in text.split("\n")]
        self.encoding = encoding

    def position(self, line: int, column: int) -> types.Position:
        """Lane's 1-based ``line`` and ``column`` (in characters) as an LSP position.

        A column past the end of its line stays past it (a missing ';' is reported
        just after the line), as LSP allows; a line past the text is its end.
        """
        if line < 1:
            return types.Position(line=0, character=0)
        if line > len(self.lines):
            last = len(self.lines) - 1
            return types.Position(line=last, character=code_units(self.lines[last], self.encoding))
        text = self.lines[line - 1]
        chars = max(column - 1, 0)
        return types.Position(line=line - 1,
                              character=code_units(text[:chars], self.encoding) + max(chars - len(text), 0))

    def range(self, loc: Location) -> types.Range:
        start = self.position(loc.line, loc.column)
        end = self.position(loc.end_line, loc.end_column)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return types.Range(start=start, end=end)

    def lane_position(self, position: types.Position) -> tuple[int, int]:
        """An LSP position as Lane's 1-based (line, column), clamped to the text."""
        line = min(max(position.line, 0), len(self.lines) - 1)
        text = self.lines[line]
        units = 0
        for i, ch in enumerate(text):
            if units >= position.character:
                return line + 1, i + 1
            units += code_units(ch, self.encoding)
        return line + 1, len(text) + 1


class SourceMap:
    """The files of one checked program: their line indexes and URIs, by Lane's file name."""

    def __init__(self, sources: Mapping[str, str], uri_of: Callable[[str], str], encoding: str = UTF16) -> None:
        self._sources = sources
        self._uri_of = uri_of
        self.encoding = encoding
        self._indexes: dict[str, LineIndex] = {}

    def index(self, file: str) -> LineIndex:
        if file not in self._indexes:
            self._indexes[file] = LineIndex(self._sources.get(file, ""), self.encoding)
        return self._indexes[file]

    def uri(self, file: str) -> str:
        return self._uri_of(file)

    def range(self, loc: Location) -> types.Range:
        return self.index(loc.file).range(loc)

    def location(self, loc: Location) -> types.Location:
        return types.Location(uri=self.uri(loc.file), range=self.range(loc))
