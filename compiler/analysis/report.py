"""The analysis of a program as data (the JSON of SPEC §5) and as a readable report.

The conflict table is the expensive part (Z3); it is cached on disk by the
hash of the program's sources, so a repeated run does not import Z3 at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..limits import read_source
from .cost import DEFAULT_COST_LIMIT, units
from .hotspots import HotSpot
from . import symbolic as S
from .summary import Access, Summary

CACHE_VERSION = "analysis-1"


@dataclass
class Analysis:
    """What ``lane analyze`` reports: functions with accesses and costs, conflicts, warnings."""

    functions: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"functions": self.functions, "conflicts": self.conflicts, "warnings": self.warnings}

    def merge(self, other: "Analysis") -> None:
        have = {(f["contract"], f["function"]) for f in self.functions}
        self.functions += [f for f in other.functions if (f["contract"], f["function"]) not in have]
        pairs = {(c["a"], c["b"]) for c in self.conflicts}
        self.conflicts += [c for c in other.conflicts if (c["a"], c["b"]) not in pairs]
        msgs = {(w["function"], w["message"]) for w in self.warnings}
        self.warnings += [w for w in other.warnings if (w["function"], w["message"]) not in msgs]


def key_text(s: S.Sym) -> str:
    return "*" if S.kind_of(s) == S.WILDCARD and not isinstance(s, S.Op) else str(s)


def access_json(a: Access) -> dict:
    return {
        "contract": a.contract,
        "var": a.var,
        "key": [key_text(k) for k in a.keys],
        "mode": a.mode,
        "kind": a.kind,
        "address": str(a.address),
        "condition": None if a.cond == S.TRUE else str(a.cond),
        # An add is a read and a write of its location when this holds (it aliases another access).
        "alias": str(a.alias) if a.mode == "add" and a.alias != S.FALSE else None,
    }


def function_json(summary: Summary) -> dict:
    accesses, seen = [], set()
    for a in summary.accesses:
        item = access_json(a)
        key = (item["contract"], item["address"], item["var"], tuple(item["key"]), item["mode"])
        if key in seen:
            # One entry per location and mode; the conditions of repeats are joined.
            for prev in accesses:
                if (prev["contract"], prev["address"], prev["var"], tuple(prev["key"]), prev["mode"]) == key:
                    if prev["condition"] is not None and item["condition"] != prev["condition"]:
                        prev["condition"] = None if item["condition"] is None else \
                            f"({prev['condition']}) || ({item['condition']})"
            continue
        seen.add(key)
        accesses.append(item)
    fn = summary.function
    return {"contract": fn.contract.name, "function": fn.name, "view": fn.is_view,
            "accesses": accesses, "cost": summary.cost}


def warning_json(spot: HotSpot) -> dict:
    diag = spot.diagnostic
    return {"function": spot.function, "message": diag.message, "hint": diag.hint,
            "location": diag.location.to_json() if diag.location else None}


# ------------------------------------------------------------------ caching

def cache_dir() -> Path:
    base = os.environ.get("LANE_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "lane"


@functools.cache
def _analyser_hash() -> bytes:
    """The analysis code itself is part of the key: a changed Lane never reads a stale table."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.digest()


_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_IMPORT = re.compile(r'\bimport\s*"([^"\\\n]*)"')


def import_closure(root: str | os.PathLike) -> dict[str, str] | None:
    """The texts of a file and of everything it imports, found without parsing (for the cache key).

    None when a file cannot be read: the full pipeline then reports it.
    """
    sources: dict[str, str] = {}
    stack = [os.path.normpath(os.fspath(root))]
    while stack:
        name = stack.pop()
        if name in sources:
            continue
        try:
            text = read_source(Path(name))  # capped: an endless file is refused, not read to the end
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        sources[name] = text
        for target in _IMPORT.findall(_COMMENT.sub(" ", text)):
            stack.append(os.path.normpath(os.path.join(os.path.dirname(name), target)))
    return sources


def source_hash(sources: dict[str, str]) -> str:
    h = hashlib.sha256(f"{CACHE_VERSION}:{__version__}".encode() + _analyser_hash())
    for name in sorted(sources):
        # The path itself, not only its name: the report carries file locations (hot-spot warnings).
        h.update(b"\0" + str(name).encode() + b"\0" + sources[name].encode())
    return h.hexdigest()


def cache_load(key: str) -> dict | None:
    try:
        return json.loads((cache_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None


def cache_store(key: str, data: dict) -> None:
    try:
        write_whole(cache_dir() / f"{key}.json", json.dumps(data).encode())
    except OSError:
        pass  # a cache that cannot be written only costs time


def write_whole(path: Path, data: bytes) -> None:
    """``data`` written to ``path`` whole or not at all (a temporary file in its folder, then
    renamed): a reader, another process's included, never sees half of it.  Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------- rendering

def render_function(fn: dict) -> list[str]:
    """One function of the report (a :func:`function_json`): its head, then one line per access."""
    view = " view" if fn.get("view") else ""
    cost = f"worst-case cost {fn['cost']}"
    if fn["cost"] > DEFAULT_COST_LIMIT:  # a call may revert with "cost limit exceeded" (see Warnings)
        cost = f"worst-case cost {units(fn['cost'])}: over the default cost limit of {DEFAULT_COST_LIMIT:,}"
    lines = [f"{fn['contract']}.{fn['function']}{view}  ({cost})"]
    if not fn["accesses"]:
        lines.append("    touches no storage")
    width = max((len(_where(a)) for a in fn["accesses"]), default=0)
    for a in fn["accesses"]:
        cond = f"  when {a['condition']}" if a["condition"] else ""
        alias = f"  (read+write if {a['alias']})" if a.get("alias") else ""
        lines.append(f"    {a['mode']:5s}  {_where(a):{width}s}  [{a['kind']}]{cond}{alias}")
    return lines


def render_text(analysis: Analysis) -> str:
    lines: list[str] = []
    for fn in analysis.functions:
        lines += render_function(fn)
        lines.append("")
    names = [f"{f['contract']}.{f['function']}" for f in analysis.functions]
    verdicts = {(c["a"], c["b"]): c for c in analysis.conflicts}
    verdicts.update({(c["b"], c["a"]): c for c in analysis.conflicts})
    if names:
        lines.append("Conflict matrix (x always, ? when, . never):")
        index_width = len(str(len(names)))
        name_width = max(len(n) for n in names)
        header = " " * (index_width + name_width + 3) + "".join(f"{i + 1:>3}" for i in range(len(names)))
        lines.append(header)
        for i, a in enumerate(names):
            row = "".join(f"{_mark(verdicts.get((a, b))):>3}" for b in names)
            lines.append(f"{i + 1:>{index_width}} {a:{name_width}s}  {row}")
        lines.append("")
    interesting = [c for c in analysis.conflicts if c["verdict"] != "never"]
    if interesting:
        lines.append("Conflicts:")
        for c in interesting:
            cond = f": {c['condition']}" if c["verdict"] == "when" else ""
            lines.append(f"    {c['a']} x {c['b']}  {c['verdict']}{cond}")
        lines.append("")
    if analysis.warnings:
        lines.append("Warnings:")
        for w in analysis.warnings:
            lines.append(f"    {w['message']}")
            if w.get("hint"):
                lines.append(f"      hint: {w['hint']}")
    else:
        lines.append("No hot spots.")
    return "\n".join(lines)


def _where(a: dict) -> str:
    head = a["var"] if a["address"] == "self" else f"{a['address']}.{a['var']}"
    return f"{a['contract']}.{head}" + "".join(f"[{k}]" for k in a["key"])


def _mark(c: dict | None) -> str:
    if c is None:
        return ""
    return {"never": ".", "always": "x", "when": "?"}[c["verdict"]]
