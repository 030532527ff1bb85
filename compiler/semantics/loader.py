"""Reading a root file and everything it imports, in dependency order."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..diagnostics import Diagnostic, Diagnostics
from ..limits import TooLarge, read_source, size_text
from ..syntax import ast

Reader = Callable[[Path], str]


def read_file(path: Path) -> str:
    """A contract file's text, read with its size limit: an endless file is refused, not read to the end."""
    return read_source(path)


class SourceCache:
    """Source texts and parsed modules, each file read and parsed once.

    ``overlays`` holds unsaved editor buffers by resolved path; they win over the disk.
    Pass one mapping to several caches to let them all see the same buffers (the
    language server keeps one cache per open document and one table of buffers).
    """

    def __init__(self, reader: Reader = read_file, overlays: Mapping[Path, str] | None = None) -> None:
        self._reader = reader
        self.overlays: Mapping[Path, str] = overlays if overlays is not None else {}
        self._parsed: dict[tuple[Path, str], tuple[str, ast.Module | None, list[Diagnostic]]] = {}

    def read(self, path: Path) -> str:
        if path in self.overlays:
            return self.overlays[path]
        return self._reader(path)

    def parse(self, path: Path, display: str) -> tuple[str, ast.Module | None, list[Diagnostic]]:
        text = self.read(path)
        key = (path, display)
        hit = self._parsed.get(key)
        if hit is None or hit[0] != text:
            from ..syntax.parser import parse  # (Lark: imported by a run that parses, not by one from the cache)

            module, diags = parse(text, display)
            hit = (text, module, diags)
            self._parsed[key] = hit
        return hit


@dataclass
class LoadedProgram:
    """A root file and its imports: modules in dependency order (imports first; of files that import
    each other, the one reached last comes first)."""

    root: str
    modules: list[ast.Module] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)  # display name -> resolved path


def display_name(path: str | os.PathLike) -> str:
    return os.path.normpath(os.fspath(path))


def load(root: str | os.PathLike, diags: Diagnostics, cache: SourceCache | None = None) -> LoadedProgram:
    cache = cache or SourceCache()
    root_display = display_name(root)
    program = LoadedProgram(root_display)
    # The files read or being read (files that import each other: each once, the first import wins).
    entered: set[Path] = set()
    # The files being read, the root first, each with the imports it has yet to follow: an
    # explicit stack, so that a chain of imports of any length cannot overflow Python's.
    active: list[tuple[Path, ast.Module, Iterator[ast.ImportDecl]]] = []

    def enter(path: Path, display: str, via: ast.ImportDecl | None) -> None:
        try:
            text, module, parse_diags = cache.parse(path, display)
        except TooLarge as err:
            what = f"larger than {size_text(err.limit)}, the limit of a contract file"
            if via is None:
                diags.error("limit", f"cannot read '{display}': {what}")
            else:
                diags.error("limit", f"cannot import \"{via.path}\": {what} ({display})", via.loc)
            return
        except (OSError, UnicodeDecodeError) as err:
            if isinstance(err, FileNotFoundError):
                reason = "no such file"
            elif isinstance(err, OSError):
                reason = (err.strerror or str(err)).lower()
            else:
                reason = "not valid UTF-8 text"
            if via is None:
                diags.error("io", f"cannot read '{display}': {reason}")
            else:
                diags.error("missing-import", f"cannot import \"{via.path}\": {reason} ({display})", via.loc)
            return
        program.sources[display] = text
        program.paths[display] = path
        diags.extend(parse_diags)
        entered.add(path)
        if module is None:
            return
        active.append((path, module, iter(module.imports)))

    enter(Path(root).resolve(), root_display, None)
    while active:
        path, module, imports = active[-1]
        imp = next(imports, None)
        if imp is None:  # every import followed: the module comes after its imports
            active.pop()
            program.modules.append(module)
            continue
        try:
            target = (path.parent / imp.path).resolve()
        except (ValueError, OSError) as err:  # a NUL byte, a loop of symlinks, ...
            diags.error("missing-import", f"cannot import \"{imp.path}\": invalid path ({err})", imp.loc)
            continue
        target_display = display_name(os.path.join(os.path.dirname(module.file), imp.path))
        # A file already read, or being read (files that import each other), is part of the program
        # already: the SPEC forbids cycles of calls between contracts, which the checker reports, not
        # of imports.
        if target not in entered:
            enter(target, target_display, imp)
    return program
