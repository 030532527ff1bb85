"""Reading a root file and everything it imports, in dependency order."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..diagnostics import Diagnostic, Diagnostics
from ..syntax import ast
from ..syntax.parser import parse

Reader = Callable[[Path], str]


def read_file(path: Path) -> str:
    return path.read_text(encoding="utf-8")


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
            module, diags = parse(text, display)
            hit = (text, module, diags)
            self._parsed[key] = hit
        return hit


@dataclass
class LoadedProgram:
    """A root file and its imports: modules in dependency order (imports first)."""

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
    done: set[Path] = set()
    stack: list[Path] = []

    def visit(path: Path, display: str, via: ast.ImportDecl | None) -> None:
        try:
            text, module, parse_diags = cache.parse(path, display)
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
        if module is None:
            done.add(path)
            return
        stack.append(path)
        for imp in module.imports:
            try:
                target = (path.parent / imp.path).resolve()
            except (ValueError, OSError) as err:  # a NUL byte, a loop of symlinks, ...
                diags.error("missing-import", f"cannot import \"{imp.path}\": invalid path ({err})", imp.loc)
                continue
            target_display = display_name(os.path.join(os.path.dirname(display), imp.path))
            if target in stack:
                cycle = [p.name for p in stack[stack.index(target):]] + [target.name]
                diags.error("import-cycle", "import cycle: " + " -> ".join(cycle), imp.loc,
                            hint="move what both files need into a third file that both import")
            elif target not in done:
                visit(target, target_display, imp)
        stack.pop()
        done.add(path)
        program.modules.append(module)

    visit(Path(root).resolve(), root_display, None)
    return program
