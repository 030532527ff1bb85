"""One diagnostics type for every phase of Lane.

A :class:`Location` is a span of a source file (1-based lines and columns,
end column exclusive).  A :class:`Diagnostic` is what any phase reports:
severity, a stable code, a message, where, notes and a hint.  It has three
renderings: terminal text (``path:line:col: error: message`` with the line and
a caret span), JSON, and LSP (which converts to 0-based positions itself).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int, width: int = 1) -> "Location":
        return cls(file, line, column, line, column + max(width, 1))

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def __reduce__(self):  # (made again by its constructor: the dataclass's __setstate__ costs 4x more)
        return Location, (self.file, self.line, self.column, self.end_line, self.end_column)


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Note:
    message: str
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    location: Location | None = None
    notes: tuple[Note, ...] = ()
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        loc = self.location
        if loc is None:
            return ("", 0, 0, self.message)
        return (loc.file, loc.line, loc.column, self.message)

    def to_json(self) -> dict:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "location": self.location.to_json() if self.location else None,
            "notes": [
                {"message": n.message, "location": n.location.to_json() if n.location else None}
                for n in self.notes
            ],
            "hint": self.hint,
        }


class Diagnostics:
    """An ordered collector of diagnostics, shared by the phases of one run."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple] = set()

    def add(self, diag: Diagnostic) -> None:
        key = (diag.severity, diag.code, diag.message, diag.location)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for d in diags:
            self.add(d)

    def error(self, code: str, message: str, location: Location | None = None, *,
              notes: Iterable[Note] = (), hint: str | None = None) -> Diagnostic:
        diag = Diagnostic(Severity.ERROR, code, message, location, tuple(notes), hint)
        self.add(diag)
        return diag

    def warning(self, code: str, message: str, location: Location | None = None, *,
                notes: Iterable[Note] = (), hint: str | None = None) -> Diagnostic:
        diag = Diagnostic(Severity.WARNING, code, message, location, tuple(notes), hint)
        self.add(diag)
        return diag

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self._items if d.is_error]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class LaneError(Exception):
    """A user's mistake (bad contract, bad file, bad arguments): reported, never a traceback."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | Diagnostic | str,
                 location: Location | None = None, code: str = "error",
                 sources: Mapping[str, str] | None = None) -> None:
        self.sources: dict[str, str] = dict(sources or {})
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(Severity.ERROR, code, diagnostics, location)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


# ---------------------------------------------------------------------------
# Renderings


LINE_SHOWN = 160  # characters of a source line a message shows, around its caret (a block's line may be 100 KB)


def _clipped(src: str, start: int, end: int) -> tuple[str, int, int]:
    """A line longer than :data:`LINE_SHOWN` cut to that many characters around column ``start``
    (``...`` where it was cut), and the columns ``start`` and ``end`` (1-based) moved with it."""
    if len(src) <= LINE_SHOWN:
        return src, start, end
    left = max(0, min(start - 1 - LINE_SHOWN // 3, len(src) - LINE_SHOWN))
    right = left + LINE_SHOWN
    head, tail = ("..." if left else ""), ("..." if right < len(src) else "")
    shift = left - len(head)
    return head + src[left:right] + tail, start - shift, max(start, min(end, right + 1)) - shift


def _caret_line(source_line: str, start: int, end: int) -> str:
    """Spaces (tabs kept) up to column ``start`` then carets up to ``end`` (1-based, exclusive)."""
    prefix = "".join("\t" if ch == "\t" else " " for ch in source_line[: start - 1])
    width = max(1, min(end, len(source_line) + 1) - start)
    return prefix + "^" * width


def render_text(diag: Diagnostic, sources: Mapping[str, str] | None = None) -> str:
    """``path:line:col: severity: message``, then the source line and a caret span."""
    loc = diag.location
    head = f"{loc}: " if loc else ""
    lines = [f"{head}{diag.severity.value}: {diag.message}"]
    text = sources.get(loc.file) if (sources is not None and loc) else None
    if loc and text is not None:
        # Split on '\n' only, as the lexer counts lines (not str.splitlines, which
        # also breaks at form feeds and Unicode line separators).
        src_lines = text.split("\n")
        if 1 <= loc.line <= len(src_lines):
            src = src_lines[loc.line - 1].rstrip("\r")
            end = loc.end_column if loc.end_line == loc.line else len(src) + 1
            src, start, end = _clipped(src, loc.column, end)
            gutter = str(loc.line)
            pad = " " * len(gutter)
            lines.append(f"{gutter} | {src}")
            lines.append(f"{pad} | {_caret_line(src, start, end)}")
    for note in diag.notes:
        where = f" ({note.location})" if note.location else ""
        lines.append(f"  = note: {note.message}{where}")
    if diag.hint:
        lines.append(f"  = hint: {diag.hint}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    return "\n\n".join(render_text(d, sources) for d in diags)


def summary_line(diags: Iterable[Diagnostic]) -> str:
    diags = list(diags)
    n_err = sum(1 for d in diags if d.severity is Severity.ERROR)
    n_warn = sum(1 for d in diags if d.severity is Severity.WARNING)
    parts = []
    if n_err:
        parts.append(f"{n_err} error{'s' if n_err != 1 else ''}")
    if n_warn:
        parts.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
    return ", ".join(parts) if parts else "no problems"
