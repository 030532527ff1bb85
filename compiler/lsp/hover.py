"""Hover text (Markdown) for what a name means.

A ``pub`` function shows its access summary and worst-case cost as ``lane
analyze`` prints them, with its hot spots; a storage variable shows its type
and which ``pub`` functions read, write or add to it.  Both come from the
access analysis, so they need a program without errors, and an analysis that
finished within the server's time limit; otherwise the hover says which and
shows the declaration alone.
"""

from __future__ import annotations

from ..analysis.cost import function_cost
from ..analysis.report import function_json, render_function
from ..analysis.summary import ADD, READ, WRITE
from ..pipeline import CompilerData
from ..semantics.symbols import Builtin, Constant, ContractInfo, Conversion, Event, Function, Special, StorageVar, \
    Variable
from .lookup import ImportTarget

NEEDS_CHECK = "_The access analysis runs once the program has no errors._"
TOO_SLOW = ("_The access analysis of this text did not finish within the time limit ({limit:g} s); "
            "`lane analyze` runs it without one._")
FAILED = "_The access analysis of this text stopped with an error (see the diagnostics)._"

_BUILTINS = {
    "min": ("min(a: u256, b: u256) -> u256", "the smaller of two numbers"),
    "max": ("max(a: u256, b: u256) -> u256", "the larger of two numbers"),
    "len": ("len(a: array<T, N>) -> u256", "the number of elements of an array parameter"),
}

_SPECIALS = {
    "self": ("self: address", "the address of this contract"),
    "msg.sender": ("msg.sender: address", "who called: the transaction's sender, or the calling contract"),
    "block.number": ("block.number: u256", "the number of the block being executed"),
    "block.timestamp": ("block.timestamp: u256", "the timestamp of the block being executed"),
}

_VARIABLE_KINDS = {"param": "parameter", "local": "local variable", "loop": "loop variable"}


def _code(text: str, lang: str = "lane") -> str:
    return f"```{lang}\n{text}\n```"


def hover_markdown(meaning: object, data: CompilerData, no_analysis: str | None = None) -> str | None:
    """The hover of ``meaning`` (see :class:`~compiler.lsp.lookup.Occurrence`) in the program of ``data``.

    With ``no_analysis`` (:data:`TOO_SLOW`, :data:`FAILED`) the access analysis is not run: the
    hover says that instead of showing what the analysis would have found.
    """
    if isinstance(meaning, Function):
        return _function(meaning, data, no_analysis)
    if isinstance(meaning, StorageVar):
        return _storage(meaning, data, no_analysis)
    if isinstance(meaning, Constant):
        value = meaning.value
        shown = "" if value is None else f" = {str(value).lower() if isinstance(value, bool) else value}"
        return _code(f"const {meaning.name}: {meaning.type}{shown}")
    if isinstance(meaning, Event):
        params = ", ".join(f"{name}: {ty}" for name, ty in meaning.params)
        return _code(f"event {meaning.name}({params})")
    if isinstance(meaning, Variable):
        return _code(f"{meaning.name}: {meaning.type}") + f"\n\n{_VARIABLE_KINDS[meaning.kind]}"
    if isinstance(meaning, ContractInfo):
        pubs = ", ".join(f"`{f.name}`" for f in meaning.pub_functions) or "none"
        return _code(f"contract {meaning.name}") + f"\n\npub functions: {pubs}"
    if isinstance(meaning, ImportTarget):
        return _code(f'import "{meaning.path}";') + f"\n\n`{meaning.file}`"
    if isinstance(meaning, Builtin) and meaning.name in _BUILTINS:
        signature, text = _BUILTINS[meaning.name]
        return _code(signature) + f"\n\n{text}"
    if isinstance(meaning, Conversion):
        return _code(f"{meaning.type}(x)") + f"\n\nconversion to {meaning.type}"
    if isinstance(meaning, Special) and meaning.name in _SPECIALS:
        signature, text = _SPECIALS[meaning.name]
        return _code(signature) + f"\n\n{text}"
    return None


def _no_analysis(data: CompilerData, no_analysis: str | None) -> str | None:
    """Why the hover cannot show the access analysis, if it cannot."""
    return NEEDS_CHECK if not data.ok else no_analysis


def _function(fn: Function, data: CompilerData, no_analysis: str | None) -> str:
    parts = [_code(fn.signature()), f"in contract `{fn.contract.name}`"]
    missing = _no_analysis(data, no_analysis)
    if fn.is_pub and missing is not None:
        parts.append(missing)
    elif not data.ok:
        parts.append(NEEDS_CHECK)
    elif fn.is_pub:
        summary = data.summaries[fn.qualname]
        parts.append(_code("\n".join(render_function(function_json(summary))), "text"))
        for spot in data.hot_spots:
            if spot.function == fn.qualname and spot.diagnostic.location is not None:
                parts.append(f"warning (line {spot.diagnostic.location.line}): {spot.diagnostic.message}")
    else:
        what = "runs once, at deployment" if fn.is_init else "internal: its accesses count in its callers' summaries"
        parts.append(f"worst-case cost {function_cost(fn, {})}; {what}")
    return "\n\n".join(parts)


def _storage(var: StorageVar, data: CompilerData, no_analysis: str | None) -> str:
    parts = [_code(f"storage {var.name}: {var.type}"), f"in contract `{var.contract.name}`"]
    missing = _no_analysis(data, no_analysis)
    if missing is not None:
        parts.append(missing)
        return "\n\n".join(parts)
    users: dict[str, list[str]] = {READ: [], WRITE: [], ADD: []}
    for name, summary in data.summaries.items():
        modes = {a.mode for a in summary.accesses if a.contract == var.contract.name and a.var == var.name}
        for mode in modes:
            users[mode].append(f"`{name}`")
    lines = [f"- {label}: {', '.join(users[mode])}"
             for mode, label in ((READ, "read by"), (WRITE, "written by"), (ADD, "added to by")) if users[mode]]
    parts.append("\n".join(lines) if lines else "no pub function touches it")
    return "\n\n".join(parts)
