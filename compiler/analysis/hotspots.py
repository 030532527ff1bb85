"""Hot spots (SPEC §2.6): a pub function that writes a location whose key does not depend on its call.

Every two calls of such a function conflict, so they serialise.  Each is
reported once per function and location, at the statement that causes it,
with a concrete suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic, Severity
from . import symbolic as S
from ..semantics import types as T
from .summary import READ, WRITE, Summary


def _declared(summary: Summary, access):
    """The storage variable an access names (it may belong to a called contract)."""
    for info in _contracts(summary.function.contract):
        if info.name == access.contract:
            return info.storage.get(access.var)
    return None


def _contracts(info):
    """A contract and every contract its functions call, transitively."""
    from ..syntax import ast

    seen, stack = {}, [info]
    while stack:
        c = stack.pop()
        if c.name in seen:
            continue
        seen[c.name] = c
        for fn in list(c.functions.values()):
            for node in ast.walk(fn.decl.body):
                if isinstance(node, ast.MethodCall) and node.target is not None:
                    stack.append(node.target.contract)
    return seen.values()


def _value_type(t):
    while isinstance(t, T.MapType):
        t = t.value
    return t


@dataclass(frozen=True)
class HotSpot:
    function: str  # Contract.function
    diagnostic: Diagnostic


def hot_spots(summaries: dict[str, Summary]) -> list[HotSpot]:
    out: list[HotSpot] = []
    for summary in summaries.values():
        seen: set[str] = set()
        for access in summary.accesses:
            if access.mode != WRITE:
                continue
            if S.depends_on_call(access.address) or any(S.depends_on_call(k) for k in access.keys):
                continue
            where = access.location_text()
            if where in seen:
                continue
            seen.add(where)
            also_read = any(a.mode == READ and a.var == access.var and a.contract == access.contract
                            and a.keys == access.keys and a.address == access.address
                            for a in summary.accesses)
            out.append(HotSpot(summary.qualname, Diagnostic(
                Severity.WARNING, "hot-spot",
                f"hot spot: every call of {summary.qualname} writes {access.contract}.{where}, "
                f"so any two calls of it conflict and run one after the other",
                access.loc, hint=_suggestion(summary, access, also_read))))
    return out


def _suggestion(summary: Summary, access, also_read: bool) -> str:
    name = summary.function.name
    program_var = _declared(summary, access)
    value_is_number = program_var is not None and _value_type(program_var.type) is T.U256
    if also_read and value_is_number:
        return (f"if {name} only adds to or subtracts from {access.var}, write it with += / -= and do not "
                f"read it in the same call: such updates commute and no longer conflict")
    if not access.keys:
        return (f"key {access.var} by msg.sender or by an argument (a map) so that calls for different "
                f"users touch different locations, or write it only where it really changes")
    return (f"make the key of {access.var} depend on the call (msg.sender or an argument), "
            f"or use += / -= only")
