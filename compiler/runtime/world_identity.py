"""Which world a state file belongs to: what of a world file changes the chain, and what does not.

A state file records the *identity* of the world it was made from (its
``meta`` table: ``world``, the fingerprint, and ``world_identity``, the
description it hashes) and refuses any other world.  The description holds
only what decides the chain's state and receipts:

- the accounts, by name, with their addresses (in no order);
- ``[chain] cost_limit``;
- the deployments, in order: name, contract, source file (relative to the world
  file), sender and ``init`` arguments, each value as its parameter's type reads it
  (``1_000`` and ``"1000"`` are one number; a name is the address it stands for);
- each source file deployed or imported, by its tokens: comments, blank lines and
  layout are not part of a contract.

So a comment, a reformatted file or accounts listed in another order keep a
state file usable; a real change is refused with what changed and what to do
(:func:`check`).  Files made before identities were recorded hold a hash of the
world file's text and its sources (:func:`legacy_fingerprint`), still accepted
while nothing changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..diagnostics import LaneError
from ..semantics import types as T
from ..vm.values import ValueError_, format_address, format_value, parse_value, quoted

VERSION = 1  # of the description; another version is another world


def describe(world) -> dict:
    """The world's identity: everything about it that decides the chain (see the module's docstring)."""
    base = os.path.dirname(os.path.abspath(world.path))
    deployments, sources = [], {}
    for entry in world.deployments:
        inst = world.instances[entry["name"]]
        # (the folder its program's file names are relative to: the working folder, or the one a
        # test chain deployed it from, which may have changed since)
        folder = entry.get("folder", "")
        init = inst.contract.init
        params = init.params if init is not None else []
        deployments.append({
            "name": inst.name,
            "contract": inst.contract.name,
            "source": _relative(os.path.join(folder, inst.data.root), base),
            "sender": _canonical(world, T.ADDRESS, entry["sender"]),
            "args": [_canonical(world, p.type, raw) for p, raw in zip(params, entry["args"])]
            if len(params) == len(entry["args"]) else entry["args"],
        })
        for name, digest in inst.data.source_digests.items():  # (kept with the compiled program)
            sources.setdefault(_relative(os.path.join(folder, name), base), digest)
    return {
        "identity": VERSION,
        "accounts": {name: format_address(address) for name, address in sorted(world.accounts.items())},
        "cost_limit": world.cost_limit,
        "deployments": deployments,
        "sources": dict(sorted(sources.items())),
    }


def fingerprint(description: dict) -> str:
    return hashlib.sha256(encode(description).encode()).hexdigest()


def encode(description: dict) -> str:
    """The description as the state file stores it: JSON with sorted keys, one line."""
    return json.dumps(description, sort_keys=True, separators=(",", ":"), default=str)


def legacy_fingerprint(world) -> str:
    """The fingerprint of state files made before identities: the world file's text and the texts
    of its sources, named relative to the world file."""
    h = hashlib.sha256(world.text.encode())
    base = os.path.dirname(os.path.abspath(world.path))
    for inst in world.instances.values():
        sources = {_relative(name, base): text for name, text in inst.data.sources.items()}
        for name in sorted(sources):
            h.update(name.encode() + b"\0" + sources[name].encode())
    return h.hexdigest()


def check(path: str, stored_fingerprint: str | None, stored_description: str | None, world) -> None:
    """Refuse a state file made from another world, saying what changed and what to do."""
    description = describe(world)
    if stored_fingerprint == fingerprint(description):
        return
    if stored_description is None and stored_fingerprint == legacy_fingerprint(world):
        return
    advice = (f"A state file holds one world's chain: to run this world, start a new state file "
              f"(--state NEW.sqlite; its genesis is made on first use), or undo the change to keep using {path}")
    try:
        old = json.loads(stored_description) if stored_description is not None else None
    except ValueError:
        old = None
    changes = differences(old, description) if isinstance(old, dict) else []
    if not changes:
        raise LaneError(f"state file {path} was made from another world (or its contracts have changed). "
                        f"{advice}", code="state")
    shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more changes" if len(changes) > 3 else "")
    raise LaneError(f"state file {path} was made from a different world: {shown}. {advice}", code="state")


def differences(old: dict, new: dict) -> list[str]:
    """What changed from ``old`` to ``new`` (two descriptions), in words, most telling first."""
    out: list[str] = []
    if old.get("identity") != new.get("identity"):
        return ["the state file records its world in a form this Lane does not read"]
    if old.get("cost_limit") != new.get("cost_limit"):
        out.append(f"[chain] cost_limit is now {new.get('cost_limit')} (it was {old.get('cost_limit')})")
    before, after = old.get("deployments", []), new.get("deployments", [])
    for k, (a, b) in enumerate(zip(before, after), 1):
        if a.get("name") != b.get("name"):
            out.append(f"deployment #{k} is now {quoted(str(b.get('name')))} (it was {quoted(str(a.get('name')))})")
            continue
        name = quoted(str(b.get("name")))
        for key, words in (("contract", "deploys contract"), ("source", "deploys from"),
                           ("sender", "has sender"), ("args", "has init arguments")):
            if a.get(key) != b.get(key):
                out.append(f"deployment {name} now {words} {_shown(b.get(key))} (it was {_shown(a.get(key))})")
    for d in after[len(before):]:
        out.append(f"deployment {quoted(str(d.get('name')))} was added")
    for d in before[len(after):]:
        out.append(f"deployment {quoted(str(d.get('name')))} was removed")
    old_sources, new_sources = old.get("sources", {}), new.get("sources", {})
    for name in sorted(set(old_sources) | set(new_sources)):
        if name not in old_sources:
            out.append(f"the world now uses the source {name}")
        elif name not in new_sources:
            out.append(f"the world no longer uses the source {name}")
        elif old_sources[name] != new_sources[name]:
            out.append(f"the source of {name} changed (not only its comments or layout)")
    old_accounts, new_accounts = old.get("accounts", {}), new.get("accounts", {})
    for name in sorted(set(old_accounts) | set(new_accounts)):
        if name not in old_accounts:
            out.append(f"account {quoted(name)} was added")
        elif name not in new_accounts:
            out.append(f"account {quoted(name)} was removed")
        elif old_accounts[name] != new_accounts[name]:
            out.append(f"account {quoted(name)} is now {new_accounts[name]} (it was {old_accounts[name]})")
    return out


def _relative(name: str, base: str) -> str:
    return os.path.relpath(os.path.abspath(name), base).replace(os.sep, "/")


def _canonical(world, ty: T.Type, raw: Any) -> Any:
    """A value as its type reads it, in its JSON form; as written if it cannot be read (the
    genesis reports that)."""
    try:
        return format_value(ty, parse_value(ty, raw, world.parse_address))
    except (ValueError_, TypeError, ValueError):
        return raw


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return quoted(text) if isinstance(value, str) else text
