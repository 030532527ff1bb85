"""Hot spots (SPEC §2.6): a pub function that writes a location whose key does not depend on its call.

Every two calls of such a function conflict (every two that take the path that writes it, when
that path has a condition), so they serialise.  Each is
reported once per function and location, at the statement that causes it,
with a concrete suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic, Severity
from . import symbolic as S
from ..semantics import types as T
from ..semantics.symbols import ContractInfo
from .summary import READ, WRITE, Summary


@dataclass(frozen=True)
class HotSpot:
    function: str  # Contract.function
    diagnostic: Diagnostic


def hot_spots(summaries: dict[str, Summary], contracts: dict[str, ContractInfo]) -> list[HotSpot]:
    """``contracts``: the program's contracts by name (a location may belong to a called one)."""
    out: list[HotSpot] = []
    for summary in summaries.values():
        # One warning per location: at its first write, or at its first unconditional one (then
        # every call writes it).
        first: dict[str, object] = {}
        for access in summary.accesses:
            if access.mode != WRITE:
                continue
            if S.depends_on_call(access.address) or any(S.depends_on_call(k) for k in access.keys):
                continue
            where = access.location_text()
            if where not in first or (first[where].cond != S.TRUE and access.cond == S.TRUE):
                first[where] = access
        for where, access in first.items():
            also_read = any(a.mode == READ and a.var == access.var and a.contract == access.contract
                            and a.keys == access.keys and a.address == access.address
                            for a in summary.accesses)
            # (under a condition, only the calls where it holds: `if a == 1 { m[1] = 1; }`)
            where_cond = "" if access.cond == S.TRUE else f" where {access.cond}"
            such = "calls of it" if access.cond == S.TRUE else "such calls"
            out.append(HotSpot(summary.qualname, Diagnostic(
                Severity.WARNING, "hot-spot",
                f"hot spot: every call of {summary.qualname}{where_cond} writes {access.contract}.{where}, "
                f"so any two {such} conflict and run one after the other",
                access.loc, hint=_suggestion(summary, access, also_read, contracts))))
    return out


def _suggestion(summary: Summary, access, also_read: bool, contracts: dict[str, ContractInfo]) -> str:
    name = summary.function.name
    declared = contracts[access.contract].storage[access.var]
    value_is_number = T.flattened(declared.type)[1] is T.U256
    if also_read and value_is_number:
        return (f"if {name} only adds to or subtracts from {access.var}, write it with += / -= and do not "
                f"read it in the same call: such updates commute and no longer conflict")
    if not access.keys:
        return (f"key {access.var} by msg.sender or by an argument (a map) so that calls for different "
                f"users touch different locations, or write it only where it really changes")
    return (f"make the key of {access.var} depend on the call (msg.sender or an argument), "
            f"or use += / -= only")
