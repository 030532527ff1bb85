"""Lane's phases, in order, each computed on first use and cached.

    source -> AST (parse, imports) -> checked program -> access summaries
           -> conflict table and hot spots;  checked program -> Python code

One :class:`CompilerData` per root file; every phase is a property, so a
command asks only for what it needs and nothing runs twice.  Phases import
their modules when first used: a command that needs only a cached analysis
never loads the parser or Z3.
"""

from __future__ import annotations

import os
from functools import cached_property

from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, Diagnostics, LaneError

if TYPE_CHECKING:  # pragma: no cover
    from .semantics.checker import CheckedProgram
    from .semantics.loader import LoadedProgram, SourceCache
    from .analysis.cost import CostWarning
    from .analysis.hotspots import HotSpot
    from .analysis.report import Analysis
    from .analysis.summary import Summary
    from .codegen.compiled import CompiledProgram


class CompilerData:
    def __init__(self, root: str | os.PathLike, cache: "SourceCache | None" = None) -> None:
        self.root = root
        self._cache = cache
        self.diags = Diagnostics()

    @property
    def cache(self) -> "SourceCache":
        if self._cache is None:
            from .semantics.loader import SourceCache

            self._cache = SourceCache()
        return self._cache

    @cached_property
    def loaded(self) -> "LoadedProgram":
        """The root file and its imports, parsed, in dependency order."""
        from .semantics.loader import load

        return load(self.root, self.diags, self.cache)

    @property
    def sources(self) -> dict[str, str]:
        return self.loaded.sources

    @cached_property
    def checked(self) -> "CheckedProgram | None":
        """Names resolved and types checked; None when the files do not parse."""
        loaded = self.loaded
        if self.diags.has_errors and len(loaded.modules) < len(loaded.sources):
            return None  # a file did not parse: checking the rest would only add noise
        from .semantics.checker import check

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

    def require_checked(self) -> "CheckedProgram":
        """The checked program, or a LaneError carrying the diagnostics."""
        checked = self.checked
        if checked is None or self.diags.has_errors:
            raise LaneError(self.diags.errors, sources=self.sources)
        return checked

    @cached_property
    def summaries(self) -> "dict[str, Summary]":
        """The access summary of every pub function (SPEC §2.1-2.3)."""
        from .analysis.summary import summarise

        return summarise(self.require_checked())

    @cached_property
    def hot_spots(self) -> "list[HotSpot]":
        from .analysis.hotspots import hot_spots

        return hot_spots(self.summaries, self.require_checked().contracts)

    @cached_property
    def cost_warnings(self) -> "list[CostWarning]":
        """Pub functions whose worst-case cost exceeds the default per-transaction cost limit."""
        from .analysis.cost import cost_warnings

        return cost_warnings(self.summaries)

    def analysis(self, memo: dict | None = None) -> "Analysis":
        """Summaries, the conflict table and hot spots; the table is cached on disk by source hash.

        ``memo`` shares verdicts between programs analysed in one run (keyed by function and file).
        """
        from .analysis import report

        # The key comes from the files' texts alone, so a warm run parses nothing and imports no Z3.
        closure = report.import_closure(self.root)
        key = report.source_hash(closure) if closure is not None else None
        cached = report.cache_load(key) if key is not None else None
        if cached is not None:
            return report.Analysis(**cached)
        from .analysis.conflicts import conflict_table

        summaries = self.summaries
        table = conflict_table(summaries.values(), memo)
        result = report.Analysis(
            functions=[report.function_json(s) for s in summaries.values()],
            conflicts=[v.to_json() for v in table],
            warnings=[report.warning_json(w) for w in [*self.hot_spots, *self.cost_warnings]],
        )
        if key is not None:
            report.cache_store(key, result.to_json())
        return result

    @property
    def ok(self) -> bool:
        self.checked
        return not self.diags.has_errors

    def diagnostics(self) -> list[Diagnostic]:
        """Errors, and when there are none the warnings of the analysis (hot spots, costs over the
        default limit)."""
        self.checked
        if not self.diags.has_errors and not getattr(self, "_hot_spots_reported", False):
            self._hot_spots_reported = True
            self.diags.extend(w.diagnostic for w in [*self.hot_spots, *self.cost_warnings])
        return self.diags.sorted()
