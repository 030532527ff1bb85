"""The two call graphs that must be acyclic (SPEC §1.3), and how deep calls may nest.

* internal functions of one contract: no recursion, so every call terminates;
* contract types: which contract calls which, so re-entrancy cannot happen;
* functions, through internal and cross-contract calls alike: no chain of
  calls longer than MAX_CALL_DEPTH (docs/limits.md), since each call is a
  Python frame when a transaction runs.
"""

from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING, Callable, Hashable, Iterable

from ..diagnostics import Diagnostics, Location, Note
from ..limits import MAX_CALL_DEPTH
from .symbols import Function

if TYPE_CHECKING:  # the checker calls this module when its bodies are checked
    from .checker import CallSite, CheckedProgram


def _cycles(edges: Iterable[tuple[Hashable, Hashable, Location]]):
    """For each cycle of the graph: its path, starting at the call that appears first in the source."""
    edges = list(edges)
    order = graphlib.TopologicalSorter()
    for u, v, _ in edges:
        order.add(v, u)
    try:
        order.prepare()
        return  # acyclic, as every valid program is: no need for networkx (a fifth of a second to import)
    except graphlib.CycleError:
        pass
    import networkx as nx

    graph = nx.DiGraph()
    for u, v, loc in edges:
        if not graph.has_edge(u, v) or _loc_key(loc) < _loc_key(graph[u][v]["loc"]):
            graph.add_edge(u, v, loc=loc)
    for component in nx.strongly_connected_components(graph):
        sub = graph.subgraph(component)
        if len(component) == 1 and not sub.number_of_edges():
            continue
        u, v, loc = min(((a, b, d["loc"]) for a, b, d in sub.edges(data=True)), key=lambda e: _loc_key(e[2]))
        path = [u] + nx.shortest_path(sub, v, u) if u != v else [u, u]
        yield path, loc


def _loc_key(loc: Location) -> tuple:
    return (loc.file, loc.line, loc.column)


def _report(diags: Diagnostics, sites: list[CallSite], node: Callable[[CallSite], tuple[Hashable, Hashable]],
            label: Callable[[Hashable], str], code: str, what: str, hint: str) -> None:
    edges = [(*node(s), s.loc) for s in sites]
    for path, loc in _cycles(edges):
        diags.error(code, f"{what}: " + " -> ".join(label(p) for p in path), loc, hint=hint)


def check_call_graphs(program: CheckedProgram, diags: Diagnostics) -> None:
    errors = len(diags.errors)
    _report(diags, program.internal_calls, lambda s: (s.caller, s.callee), lambda f: f.name,
            "recursion", "recursion is not allowed",
            "every call must terminate within a static bound; rewrite the recursion as a bounded loop")
    _report(diags, program.external_calls, lambda s: (s.caller.contract.name, s.callee.contract.name),
            str, "reentrancy", "contract call cycle (re-entrancy)",
            "the graph of which contract calls which must be acyclic; move the shared logic into one contract")
    if len(diags.errors) == errors:  # chains are only defined without cycles
        _check_call_depth(program, diags)


def _check_call_depth(program: CheckedProgram, diags: Diagnostics) -> None:
    """A ``limit`` error at each outermost function whose calls nest deeper than MAX_CALL_DEPTH.

    Only outermost ones (called by no function): every caller of a function with too deep a
    chain has one too, and one error per chain says it all.
    """
    calls: dict[Function, list[CallSite]] = {}
    called: set[Function] = set()
    for site in sorted((*program.internal_calls, *program.external_calls), key=lambda s: _loc_key(s.loc)):
        calls.setdefault(site.caller, []).append(site)
        called.add(site.callee)
    chains = _longest_chains(calls)
    for fn, (depth, first) in chains.items():
        if fn in called or depth <= MAX_CALL_DEPTH or first is None:
            continue
        path, sites = [fn], []
        while (step := chains.get(path[-1], (0, None))[1]) is not None:
            sites.append(step)
            path.append(step.callee)
        names = [f.qualname for f in path]
        shown = names if len(names) <= 6 else [*names[:3], "...", *names[-2:]]
        diags.error("limit", f"calls nested too deeply: more than {MAX_CALL_DEPTH} calls inside one another "
                    f"({' -> '.join(shown)}: {depth} calls)", first.loc,
                    notes=[Note(f"call {MAX_CALL_DEPTH + 1} of the chain", sites[MAX_CALL_DEPTH].loc)],
                    hint="each call is a frame when a transaction runs; make the chain shorter, "
                         "for example by merging small functions into their callers")


def _longest_chains(calls: dict[Function, list[CallSite]]) -> dict[Function, tuple[int, CallSite | None]]:
    """For each function: how many calls its longest chain of calls nests, and the call it starts with.

    The graph is acyclic (checked before).  A depth-first search with its own stack, so that a
    chain of any length cannot overflow Python's.
    """
    out: dict[Function, tuple[int, CallSite | None]] = {}
    for root in calls:
        if root in out:
            continue
        stack = [(root, iter(calls.get(root, ())))]
        open_ = {root}  # (a cycle would lead back to one of these: it is not followed)
        while stack:
            fn, sites = stack[-1]
            site = next(sites, None)
            if site is None:
                stack.pop()
                open_.discard(fn)
                best: tuple[int, CallSite | None] = (0, None)
                for s in calls.get(fn, ()):
                    below = out.get(s.callee, (0, None))[0]
                    if below + 1 > best[0]:
                        best = (below + 1, s)
                out[fn] = best
            elif site.callee not in out and site.callee not in open_:
                open_.add(site.callee)
                stack.append((site.callee, iter(calls.get(site.callee, ()))))
    return out
