"""``lane state``: what a state file holds, read without running anything.

- ``lane state show --state PATH``: its head block, roots, size and blocks;
- ``lane state receipts WORLD --state PATH [--block N]``: a block's receipts, as
  ``lane run --json`` prints them (the world names the instances and types the events);
- ``lane state verify WORLD --state PATH``: the state root recomputed from every
  stored location, against the one kept block by block (SPEC §4).

Each opens the file for reading only (:class:`~compiler.runtime.store.StateStore`), so a
missing file, another application's database or a file of another world is refused
as ``lane call`` refuses it, and nothing is ever written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from .cli_support import LaneGroup, guarded, print_json
from .diagnostics import LaneError

state_app = typer.Typer(
    name="state",
    help="Look inside a state file (--state): its blocks, receipts and roots.",
    no_args_is_help=True,
    add_completion=False,
    cls=LaneGroup,
)

STATE_HELP = "The SQLite state file (made by lane run --state)."
WORLD_HELP = "The world file the state file was made from (it names instances and types events)."
JSON_HELP = "Print the result as one JSON object."


def _open(state: Path):
    from .runtime.store import StateStore

    store = StateStore(state, writable=False)
    if store.new:
        store.close()
        raise LaneError(f"state file {store.path} holds no state yet (run a block on it first)", code="state")
    return store


def _open_with_world(world_path: Path, state: Path):
    from .runtime.world import load_world

    world = load_world(world_path)
    store = _open(state)
    try:
        store.check_world(world)
    except BaseException:
        store.close()
        raise
    return world, store


@state_app.command()
@guarded
def show(
    state: Path = typer.Option(..., "--state", help=STATE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The head block, its state and receipts roots, the file's size and its blocks."""
    store = _open(state)
    try:
        blocks = store.blocks()
        identity_text = store.meta("world_identity")
        fingerprint = store.meta("world") or ""
    finally:
        store.close()
    number, timestamp, transactions, cost, state_root, receipts_root = blocks[-1]
    committed = [row[0] for row in blocks if row[0] > 0]
    try:
        identity = json.loads(identity_text) if identity_text else {}
        deployments = [d.get("name") for d in identity.get("deployments", [])]
        sources = sorted(identity.get("sources", {}))
    except (ValueError, TypeError, AttributeError):  # (not the JSON object Lane writes there)
        raise LaneError(f"state file {os.fspath(state)} is damaged: the description of its world is not as Lane "
                        "writes it; it was changed outside Lane", code="state") from None
    out = {
        "path": os.fspath(state),
        "bytes": os.path.getsize(state),
        "head": {"number": number, "timestamp": int(timestamp), "transactions": transactions, "cost": cost,
                 "state_root": state_root, "receipts_root": receipts_root},
        "blocks": len(committed),
        "genesis_state_root": blocks[0][4],
        "world": {"fingerprint": fingerprint, "deployments": deployments, "sources": sources},
    }
    if json_out:
        print_json(out)
        return
    head = (f"{number} (timestamp {int(timestamp)}): {transactions:,} transaction{'s' if transactions != 1 else ''}, "
            f"cost {cost:,}" if number else "0, the genesis")
    span = f" (numbers {committed[0]} to {committed[-1]})" if len(committed) > 1 else ""
    n_sources = len(out["world"]["sources"])
    world = (f"{len(deployments)} deployment{'s' if len(deployments) != 1 else ''} from {n_sources} source "
             f"file{'s' if n_sources != 1 else ''}; " if identity else "")
    print("\n".join([
        f"state file    {out['path']} ({out['bytes']:,} bytes)",
        f"head block    {head}",
        f"state root    {state_root}",
        f"receipts root {receipts_root or '(none: no block yet)'}",
        f"blocks        {len(committed)} committed after the genesis{span}",
        f"world         {world}fingerprint {fingerprint[:16]}",
    ]))


@state_app.command()
@guarded
def receipts(
    world: Path = typer.Argument(..., metavar="WORLD", help=WORLD_HELP),
    state: Path = typer.Option(..., "--state", help=STATE_HELP),
    block: Optional[int] = typer.Option(None, "--block", min=1, help="The block's number (default: the head block)."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The receipts of a committed block, as lane run --json prints them.

    The file keeps receipts, not calls: no revert's place (and in a file written before it kept how
    returns show, an address returned shows as a number).
    """
    # A state file keeps each receipt's canonical encoding and how its return shows (``returns``),
    # not the transaction that made it: "at" is not there.
    from .runtime import encoding
    from .runtime.receipts import event_json, return_formatters

    loaded, store = _open_with_world(world, state)
    try:
        rows = {row[0]: row for row in store.blocks()}
        number = block if block is not None else max(rows)
        if number not in rows or number == 0:
            known = [n for n in rows if n > 0]
            have = (f"its blocks are {_ranges(known)}" if known else "it holds no block yet")
            raise LaneError(f"state file {store.path} has no block {number}: {have}", code="state")
        data = store.receipts(number)
        returns = store.returns(number)
    finally:
        store.close()
    _, timestamp, _, cost, state_root, receipts_root = rows[number]
    try:
        outcomes = encoding.unpack(data or b"")
    except ValueError as err:
        raise LaneError(f"state file {store.path} is damaged: block {number}'s receipts cannot be read ({err})",
                        code="state") from None
    shown = return_formatters(returns, len(outcomes)) or [None] * len(outcomes)
    receipts = [_receipt_json(loaded, k, outcome, event_json, show) for (k, outcome), show in
                zip(enumerate(outcomes), shown)]
    out = {"number": number, "timestamp": int(timestamp), "state_root": state_root, "receipts_root": receipts_root,
           "cost": cost, "receipts": receipts}
    if json_out:
        print_json(out)
        return
    n = len(receipts)
    lines = [f"block {number} (timestamp {int(timestamp)}): {n} receipt{'s' if n != 1 else ''}, cost {cost:,}"]
    for r in receipts:
        result = f": {r['reason']}" if r["reason"] is not None else (
            f": {_text(r['return'], loaded)}" if r["return"] is not None else "")
        lines.append(f"#{r['index']} {r['status']}{result} (cost {r['cost']:,})")
        for e in r["events"]:
            lines.append(f"    {e['contract']}.{e['event']}({', '.join(_text(a, loaded) for a in e['args'])})")
    print("\n".join(lines))


def _receipt_json(world, index: int, outcome, event_json, show=None) -> dict:
    """A receipt as JSON; ``show``: what shows its return value (None: the file did not keep it, and
    a value shows by its own kind: a number, or true or false)."""
    status, reason, value, events, cost = outcome[:5]
    if value is not None and status == "ok" and show is not None:
        value = show(value)
    elif value is not None and not isinstance(value, bool):
        value = str(value)
    return {
        "index": index,
        "status": status,
        "reason": reason,
        "return": value,
        "events": [event_json(world, tuple(e)) for e in events],
        "cost": cost,
    }


def _text(value, world=None) -> str:
    """A value of a receipt as the text output shows it: an address by the name the world gives it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if world is not None and isinstance(value, str) and value.startswith("0x"):
        return world.name_of(int(value, 16)) or value
    return str(value)


def _ranges(numbers: list[int]) -> str:
    """``1 to 3, 600``: block numbers as runs."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in runs)


@state_app.command()
@guarded
def verify(
    world: Path = typer.Argument(..., metavar="WORLD", help=WORLD_HELP),
    state: Path = typer.Option(..., "--state", help=STATE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Recompute the state root from every stored location and compare it with the head block's.

    Each block moves the root by what it changed; this reads the whole state instead. Exit 1 if they differ.
    """
    from .runtime.roots import accumulate, root_of

    loaded, store = _open_with_world(world, state)
    try:
        store.bind(loaded)
        count = 0

        def counted(locations):
            nonlocal count
            for loc in locations:
                count += 1
                yield loc

        recomputed = root_of(accumulate(counted(store.locations())))
        number, _, accumulator = store.head
        recorded = store.blocks()[-1][4]
    finally:
        store.close()
    kept = root_of(accumulator)
    if recomputed != recorded or kept != recorded:
        what = (f"the state root recomputed from its {count:,} locations is {recomputed}, but block {number} "
                f"recorded {recorded}" if recomputed != recorded else
                f"the accumulator kept for the next block gives {kept}, but block {number} recorded {recorded}")
        raise LaneError(f"state file {os.fspath(state)} does not agree with itself: {what}; it was changed "
                        "outside Lane or is damaged (its blocks cannot be trusted)", code="verify")
    if json_out:
        print_json({"block": number, "locations": count, "state_root": recomputed, "recorded": recorded,
                    "agrees": True})
        return
    print(f"block {number}: the state root recomputed from {count:,} stored location{'s' if count != 1 else ''} "
          f"is the one recorded, {recorded}")
