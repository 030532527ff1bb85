"""The two call graphs that must be acyclic (SPEC §1.3).

* internal functions of one contract: no recursion, so every call terminates;
* contract types: which contract calls which, so re-entrancy cannot happen.
"""

from __future__ import annotations

from typing import Callable, Hashable, Iterable

import networkx as nx

from ..diagnostics import Diagnostics, Location
from .checker import CallSite, CheckedProgram


def _cycles(edges: Iterable[tuple[Hashable, Hashable, Location]]):
    """For each cycle of the graph: its path, starting at the call that appears first in the source."""
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
    _report(diags, program.internal_calls, lambda s: (s.caller, s.callee), lambda f: f.name,
            "recursion", "recursion is not allowed",
            "every call must terminate within a static bound; rewrite the recursion as a bounded loop")
    _report(diags, program.external_calls, lambda s: (s.caller.contract.name, s.callee.contract.name),
            str, "reentrancy", "contract call cycle (re-entrancy)",
            "the graph of which contract calls which must be acyclic; move the shared logic into one contract")
