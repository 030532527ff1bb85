"""Lane's phases, in order, each computed on first use and cached.

    source -> AST (parse, imports) -> checked program -> ... later phases

One :class:`CompilerData` per root file; every phase is a property, so a
command asks only for what it needs and nothing runs twice.
"""

from __future__ import annotations

import os
from functools import cached_property

from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, Diagnostics, LaneError
from .semantics.checker import CheckedProgram, check
from .semantics.loader import LoadedProgram, SourceCache, load

if TYPE_CHECKING:  # pragma: no cover
    from .codegen.compiled import CompiledProgram


class CompilerData:
    def __init__(self, root: str | os.PathLike, cache: SourceCache | None = None) -> None:
        self.root = root
        self.cache = cache or SourceCache()
        self.diags = Diagnostics()

    @cached_property
    def loaded(self) -> LoadedProgram:
        """The root file and its imports, parsed, in dependency order."""
        return load(self.root, self.diags, self.cache)

    @property
    def sources(self) -> dict[str, str]:
        return self.loaded.sources

    @cached_property
    def checked(self) -> CheckedProgram | None:
        """Names resolved and types checked; None when the files do not parse."""
        loaded = self.loaded
        if self.diags.has_errors and len(loaded.modules) < len(loaded.sources):
            return None  # a file did not parse: checking the rest would only add noise
        return check(loaded.modules, self.diags)

    @cached_property
    def compiled(self) -> "CompiledProgram":
        """The program as Python, compiled once; only for a program without errors."""
        from .codegen.compiled import compile_program

        return compile_program(self.require_checked(), os.path.basename(str(self.root)))

    @cached_property
    def traced(self) -> "CompiledProgram":
        """Like :attr:`compiled`, with every storage access reported (the soundness checker)."""
        from .codegen.compiled import compile_program

        return compile_program(self.require_checked(), os.path.basename(str(self.root)), trace=True)

    def require_checked(self) -> CheckedProgram:
        """The checked program, or a LaneError carrying the diagnostics."""
        checked = self.checked
        if checked is None or self.diags.has_errors:
            raise LaneError(self.diags.errors, sources=self.sources)
        return checked

    @property
    def ok(self) -> bool:
        self.checked
        return not self.diags.has_errors

    def diagnostics(self) -> list[Diagnostic]:
        self.checked
        return self.diags.sorted()
