"""Lane's phases, in order, each computed on first use and cached.

    source -> AST (parse, imports) -> checked program -> access summaries
           -> conflict table and hot spots;  checked program -> Python code

One :class:`CompilerData` per root file; every phase is a property, so a
command asks only for what it needs and nothing runs twice.  Phases import
their modules when first used: a command that needs only a cached analysis
never loads the parser or Z3.
"""

from __future__ import annotations

import functools
import marshal
import os
from functools import cached_property

from . import __version__

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
    def source_digests(self) -> dict[str, str]:
        """Each file's digest by its tokens (:func:`compiler.syntax.grammar.token_digest`), as a
        world's identity names it: kept in the program cache, so a run does not lex its sources."""
        from .syntax.grammar import token_digest

        return {name: token_digest(text) for name, text in self.sources.items()}

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

        return compile_program(self.require_checked(), os.path.basename(str(self.root)),
                               source=self.__dict__.pop("_cached_source", None),
                               code=self.__dict__.pop("_cached_code", None))

    @cached_property
    def traced(self) -> "CompiledProgram":
        """Like :attr:`compiled`, with every storage access reported (the soundness checker)."""
        from .codegen.compiled import compile_program

        return compile_program(self.require_checked(), os.path.basename(str(self.root)), trace=True)

    @cached_property
    def logged(self) -> "CompiledProgram":
        """Like :attr:`compiled`, with every storage access logged in ``rt.log`` (the lanes of the
        parallel executor, which check the accesses they really made)."""
        from .codegen.compiled import compile_program

        return compile_program(self.require_checked(), os.path.basename(str(self.root)), log=True,
                               source=self.__dict__.pop("_cached_logged_source", None),
                               code=self.__dict__.pop("_cached_logged_code", None))

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


# ---------------------------------------------------------------- the program cache
# A world's programs, checked, summarised and generated, are kept on disk keyed by the texts of
# their files and by Lane's own code: a command that loads a world whose contracts have not
# changed unpickles them (milliseconds) instead of parsing, checking and analysing again.

_PHASES = ("loaded", "checked", "summaries", "source_digests")


def program(root: str | os.PathLike, cache: "SourceCache | None" = None) -> CompilerData:
    """``root``'s program checked (errors raise LaneError), compiled and summarised, from the program
    cache when nothing it depends on has changed."""
    from .analysis import report

    closure = report.import_closure(root)
    key = _program_key(closure) if closure is not None else None
    if key is not None:
        data = _restore(root, cache, key)
        if data is not None:
            return data
    data = CompilerData(root, cache)
    data.require_checked()
    data.compiled
    data.summaries
    data.source_digests
    if key is not None:
        _store(data, key)
    return data


def _program_key(closure: dict[str, str]) -> str:
    import hashlib

    # The names as given, and where from: a program keeps them (its diagnostics, a world's identity).
    h = hashlib.sha256(b"lane-program-v1\0" + code_hash() + os.getcwd().encode("utf-8", "surrogatepass"))
    for name in sorted(closure):
        h.update(b"\0" + name.encode("utf-8", "surrogatepass") + b"\0" + closure[name].encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@functools.cache
def code_hash() -> bytes:
    """Lane's own code and grammar: a changed Lane never reads a program another one cached."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")) + sorted(package.parent.glob("grammar/*.lark")):
        h.update(path.read_bytes())
    return h.digest()


def _magic() -> bytes:
    """This Python's mark on compiled code (marshalled code objects are read by the Python that wrote them only)."""
    import importlib.util

    return importlib.util.MAGIC_NUMBER


def _path(key: str):
    from .analysis.report import cache_dir

    return cache_dir() / f"{key}.program"


def _restore(root, cache, key: str) -> CompilerData | None:
    import pickle

    try:
        state = pickle.loads(_path(key).read_bytes())
    except Exception:  # noqa: BLE001 - missing, unreadable or from another Python: rebuild it
        return None
    data = CompilerData(root, cache)
    data.diags = state["diags"]
    for name in _PHASES:
        data.__dict__[name] = state[name]
    data.__dict__["_cached_source"] = state["source"]
    data.__dict__["_cached_logged_source"] = state.get("logged_source")
    if state.get("magic") == _magic():  # (compiled code of this Python only)
        data.__dict__["_cached_code"] = state.get("code")
        data.__dict__["_cached_logged_code"] = state.get("logged_code")
    return data


def _store(data: CompilerData, key: str) -> None:
    import pickle

    from .analysis.report import write_whole

    state = {name: data.__dict__[name] for name in _PHASES}
    state["diags"] = data.diags
    state["source"] = data.compiled.source
    from .codegen.compiled import code_bytes
    from .codegen.python import generate

    # The lanes' code (every access logged) as text too: each worker of the parallel executor loads
    # it after the fork, and generating it costs as much as compiling it.  And both compiled, for
    # this Python: loading compiled code takes a fiftieth of compiling it (40 ms of a run on the
    # demo's contracts, and as much in each worker).
    name = os.path.basename(str(data.root))
    state["logged_source"] = generate(data.require_checked(), log=True)
    state["magic"] = _magic()
    state["code"] = marshal.dumps(data.compiled.code)
    try:
        state["logged_code"] = code_bytes(state["logged_source"], name)
    except (SyntaxError, RecursionError, MemoryError):  # (nested past CPython's parser: the lanes fail, as before)
        state["logged_code"] = None
    path = _path(key)
    try:
        write_whole(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, RecursionError, pickle.PicklingError, TypeError, AttributeError):
        pass  # a cache that cannot be written only costs time
