"""Writing a block's DAG: networkx node-link JSON, DOT or GraphML, chosen by the file's extension."""

from __future__ import annotations

import json
import os
from typing import Callable

from ..diagnostics import LaneError
from .dag import Schedule


def _json(schedule: Schedule, path: str) -> None:
    import networkx as nx

    data = nx.node_link_data(schedule.to_networkx(), edges="edges")
    data["stats"] = schedule.stats()
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1)


def _dot_quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(schedule: Schedule, path: str) -> None:
    g = schedule.to_networkx()
    with open(path, "w") as fh:
        fh.write("digraph block {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n")
        for n, attrs in g.nodes(data=True):
            label = _dot_quote(f"#{n} {attrs['function']}") + "+" + _dot_quote(f"{attrs['sender']} -> {attrs['to']}")
            label = label.replace('"+"', "\\n")  # DOT's line break inside one label
            fh.write(f"  {n} [label={label}, cost={attrs['cost']}];\n")
        for i, j, attrs in g.edges(data=True):
            fh.write(f"  {i} -> {j} [label={_dot_quote(', '.join(attrs['locations']))}];\n")
        fh.write("}\n")


def _graphml(schedule: Schedule, path: str) -> None:
    import networkx as nx

    g = schedule.to_networkx()
    for _, _, attrs in g.edges(data=True):
        attrs["locations"] = "; ".join(attrs["locations"])  # GraphML attributes are scalars
    nx.write_graphml(g, path)


EXPORTERS: dict[str, tuple[Callable[[Schedule, str], None], str]] = {
    ".json": (_json, "networkx node-link JSON, with the statistics"),
    ".dot": (_dot, "Graphviz DOT"),
    ".graphml": (_graphml, "GraphML"),
}


def export(schedule: Schedule, path: str) -> None:
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXPORTERS:
        raise LaneError(f"cannot write '{path}': the extension must be one of {', '.join(EXPORTERS)}",
                        code="usage")
    try:
        EXPORTERS[ext][0](schedule, path)
    except OSError as err:
        raise LaneError(f"cannot write '{path}': {err.strerror or err}", code="io") from None
