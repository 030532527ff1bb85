"""Helpers for the runtime tests (test_semantics, test_state, test_cli_run).

Small worlds and blocks are written into a test's ``tmp_path``; blocks run
either through the Python API (:class:`compiler.runtime.chain.Chain`) or through
``python -m compiler`` in a subprocess.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from compiler.runtime import parallel
from compiler.runtime.block import parse_block_text
from compiler.runtime.chain import BlockResult, Chain
from compiler.vm.context import Context
from compiler.runtime.roots import StateHash
from compiler.vm.variables import copy_storage
from compiler.vm.values import derive_address, format_address

MAX = 2**256 - 1
ZERO_ADDRESS = "0x" + "0" * 40


# A contract of one shared total that every call adds to or takes from, and a counter per sender:
# the parallel executors' tests (tests/test_parallel.py, tests/test_dask.py).
POT = """
contract Pot {
    storage pot: u256;
    storage mine: map<address, u256>;
    pub fn give(x: u256) { pot += x; mine[msg.sender] += 1; }
    pub fn take(x: u256) { pot -= x; }
    pub fn look() -> u256 { return pot; }
}
"""


def pot_world(tmp_path: Path, source: str = POT, contract: str = "Pot", init: str = "[]") -> Path:
    """A world deploying ``contract`` of ``source`` (the Pot by default) as ``pot``."""
    (tmp_path / "c.lane").write_text(source)
    world = tmp_path / "world.toml"
    world.write_text(f'[[deploy]]\nname = "pot"\nsource = "c.lane"\ncontract = "{contract}"\nargs = {init}\n')
    return world


def pot_lines(*txs: tuple[str, str, list]) -> str:
    """A block's text: each (sender, function, arguments) a call of ``pot``."""
    return "\n".join(json.dumps({"from": s, "to": "pot", "fn": f, "args": a}) for s, f, a in txs)


def account(name: str) -> str:
    """The address a name that is neither an account nor an instance stands for (0x + 40 hex)."""
    return format_address(derive_address(name))


def instance(name: str) -> str:
    """The address an instance named ``name`` is deployed at."""
    return format_address(derive_address(name, "contract"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def world_toml(deploys: Iterable[Mapping[str, Any]], accounts: Mapping[str, str] | None = None) -> str:
    out = []
    if accounts:
        out.append("[accounts]")
        out += [f"{name} = {json.dumps(addr)}" for name, addr in accounts.items()]
        out.append("")
    for d in deploys:
        out.append("[[deploy]]")
        out += [f"{key} = {_toml_value(value)}" for key, value in d.items()]
        out.append("")
    return "\n".join(out)


def make_world(root: Path, sources: Mapping[str, str], deploys: Iterable[Mapping[str, Any]],
               accounts: Mapping[str, str] | None = None, name: str = "world.toml") -> Path:
    """Write contract ``sources`` (dedented) and a world file deploying ``deploys`` under ``root``."""
    for rel, text in sources.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    world = root / name
    world.write_text(world_toml(deploys, accounts), encoding="utf-8")
    return world


def tx(sender: str, to: str, fn: str, *args: Any) -> dict:
    return {"from": sender, "to": to, "fn": fn, "args": list(args)}


def block_text(txs: Iterable[Any]) -> str:
    """JSON Lines; an item that is a ``str`` is written as the line itself."""
    return "".join((t if isinstance(t, str) else json.dumps(t)) + "\n" for t in txs)


def write_block(root: Path, txs: Iterable[Any], name: str = "block.jsonl") -> Path:
    path = root / name
    path.write_text(block_text(txs), encoding="utf-8")
    return path


def raw_block(txs: Iterable[Any]) -> list:
    """Transactions as ``read_block`` gives them (see :func:`block_text`)."""
    return parse_block_text(block_text(txs), "b.jsonl")


def fork_chain(chain: Chain) -> Chain:
    """A chain on a copy of ``chain``'s state (the world and its compiled code are shared)."""
    ctx = Context(copy_storage(chain.ctx.storage), chain.world.code, cost_limit=chain.world.cost_limit)
    return Chain(chain.world, ctx, None, (chain.number, chain.timestamp), StateHash(chain.world, chain.hash.accumulator))


def run_block(chain: Chain, txs: Iterable[Any], number: int | None = None,
              timestamp: int | None = None) -> BlockResult:
    return chain.run_block(raw_block(txs), number, timestamp)


def receipts(result: BlockResult) -> list[dict]:
    """Receipts as (status, reason, return, events) dicts, without the index and event addresses."""
    out = []
    for r in result.receipts_json:
        out.append({
            "status": r["status"], "reason": r["reason"], "return": r["return"],
            "events": [{"contract": e["contract"], "event": e["event"], "args": e["args"]} for e in r["events"]],
        })
    return out


def lane(*args: str, cwd: Path, env: Mapping[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m compiler ARGS`` in a subprocess, text output captured."""
    full_env = dict(os.environ)
    full_env.pop("LANE_DEBUG", None)
    full_env["NO_COLOR"] = "1"
    full_env["COLUMNS"] = "200"
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def lane_ok(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = lane(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


def lane_json(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> dict:
    return json.loads(lane_ok(*args, "--json", cwd=cwd, env=env).stdout)


def lane_fails(*args: str, cwd: Path) -> str:
    """Run a command that must fail with a user error (exit 1, no traceback); its stderr."""
    proc = lane(*args, cwd=cwd)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return proc.stderr


TOKEN = """
contract Token {
    storage balances: map<address, u256>;
    storage supply: u256;
    event Transfer(from: address, to: address, amount: u256);

    init(initial: u256) {
        balances[msg.sender] = initial;
        supply = initial;
    }

    pub fn transfer(to: address, amount: u256) -> bool {
        require(balances[msg.sender] >= amount, "insufficient balance");
        balances[msg.sender] -= amount;
        balances[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    pub view fn balance_of(who: address) -> u256 {
        return balances[who];
    }
}
"""

ALICE = "0x00000000000000000000000000000000000a11ce"


def token_world(root: Path, supply: int = 1_000_000, name: str = "world.toml") -> Path:
    """A world with one Token instance ``token`` whose supply belongs to ``alice``."""
    return make_world(root, {"token.lane": TOKEN},
                      [{"name": "token", "source": "token.lane", "contract": "Token", "sender": "alice",
                        "args": [str(supply)]}],
                      accounts={"alice": ALICE}, name=name)


def both_ways(world: Path, raw, workers: int = 2, **settings: Any) -> tuple[BlockResult, BlockResult, dict]:
    """``raw`` run by the sequential executor and forced onto ``workers`` lanes, each on a chain of its
    own opened on ``world`` (``settings``: more of the parallel executor's test settings,
    ``force_window=8``, say): (sequential result, parallel result, the parallel run's info)."""
    seq, par = Chain.open(world), Chain.open(world)
    executor = parallel.executor_for(par, workers).__self__
    executor.force = True
    for name, value in settings.items():
        setattr(executor, name, value)
    try:
        return seq.run_block(raw), par.run_block(raw, executor="parallel", workers=workers), dict(executor.last)
    finally:
        par.close()
        seq.close()


def refused_on_lanes(chain: Chain, block, expected: BlockResult, **run: Any) -> None:
    """``block`` run on 2 lanes, its result ``expected``, then refused before its commit."""
    import pytest

    def refuse(result):
        assert result.receipts_json == expected.receipts_json and result.state_root == expected.state_root
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        chain.run_block(block, executor="parallel", workers=2, before_commit=refuse, **run)


def forget_accesses(setattr_: Callable, chain: Chain, function: tuple[str, str], var: tuple[str, str]) -> None:
    """Make ``function``'s (contract, name) summary forget its accesses to ``var`` (the declaring
    contract, the variable), as a bug in the analysis would, however it is instantiated (call by
    call, or by columns): the lanes are planned without them.  ``setattr_(obj, name, value)`` sets an
    attribute until the test ends (``monkeypatch.setattr``, or an ``ExitStack``'s ``patch.object``);
    the chain's workers, forked after, inherit it."""
    from compiler.runtime.functions import FunctionTable
    from compiler.schedule.rows import RowMaker

    compiled = chain.compiled_summaries
    entry = compiled.by_function[function]
    real, vid = entry.inst, compiled.var_ids(*var)

    def forgetful(sender, target, args, read, number, timestamp, out, imm=None, stored=None):
        real(sender, target, args, read, number, timestamp, out, imm, stored)
        out[:] = [item for item in out if item[0][1] != vid]
        return out

    setattr_(entry, "inst", forgetful)
    # (and the summary itself, which says which variables the block writes: ``FunctionTable.quiet``)
    forgotten = dataclasses.replace(entry.summary, accesses=[a for a in entry.summary.accesses
                                                             if (a.contract, a.var) != var])
    setattr_(entry, "summary", forgotten)
    real_summary = FunctionTable.summary

    def summary(self, fid):
        fn = self.functions[fid]
        return forgotten if (fn.contract.name, fn.name) == function else real_summary(self, fid)

    setattr_(FunctionTable, "summary", summary)
    real_plan = RowMaker.plan

    def plan(self, fn, to, storage, written=None):
        got = real_plan(self, fn, to, storage, written)
        if got is not None and self.compiled.by_function_object.get(fn) is entry:
            got = [c for c in got if c.vid != vid]
        return got

    setattr_(RowMaker, "plan", plan)


def dag_covers_oracle(chain: Chain, txs: list[dict], number: int) -> None:
    """``chain.schedule``'s DAG of the block ``txs`` orders every pair the oracle's orders (the accesses
    the transactions really make, the block run traced on a copy of the state), and the oracle's run
    changed nothing: the chain schedules the block as before."""
    from compiler.runtime.oracle import oracle_comparison

    raw = raw_block(txs)
    static = chain.schedule(raw, number=number)
    c = oracle_comparison(chain, raw, static, number, 12 * number)
    assert c.missing == [], c.missing
    assert c.static_pairs >= c.oracle_pairs
    again = chain.schedule(raw, number=number)
    assert (again.sources, again.targets) == (static.sources, static.targets)


def columns_cover_the_walk(chain: Chain, txs: list[dict], number: int, written: frozenset | None = frozenset()) -> None:
    """The rows the parallel executor makes a column at a time for block ``txs`` on ``chain``'s state
    (a loop's reads as one wildcard row each, as in a block whose functions write none of them; with
    ``written`` None, as where they may be written: a short loop's keys a column each, a long one's
    walked) cover every row of the call-by-call instantiation of the same transactions: the same location
    (or a wildcard of its variable in that instance) in a mode that conflicts with at least as
    much.  Each way, a transaction has one row of a variable's location it touches (written when
    it touches it in several modes).  A plan with a key read from storage records that read as a
    source, as the walk does where its guards cut none of the transaction's accesses (it also records
    what its guards read: a column keeps every access whatever they decide, so it needs none of those)."""
    from compiler.runtime.block import prepare
    from compiler.schedule.locations import Looked
    from compiler.schedule.rows import R, W, RowMaker

    block = prepare(chain.world, raw_block(txs))
    functions = [tx.function for tx in block]
    calls = [tx.call for tx in block]
    which = list(range(len(block)))
    maker = RowMaker(chain.compiled_summaries)
    storage = chain.ctx.storage
    columns, column_sources, _ = maker.rows(which, functions, calls, storage, number, 12 * number, written=written)
    walked, walked_sources, _ = maker.rows(which, functions, calls, storage, number, 12 * number,
                                           unresolved={k: {} for k in which})  # every transaction call by call
    covers = {R: {R, W}, W: {W}, 2: {2, W}}  # (2: an add)
    fields = ("tx", "loc", "var", "inst", "mode", "wild")
    for rows in (columns, walked):  # one row per transaction and location of a variable, either way
        exact = ~rows["wild"]  # (a call given one contract for another may touch a location as two variables)
        pairs = list(zip(*(rows[f][exact].tolist() for f in ("tx", "loc", "var"))))
        assert len(pairs) == len(set(pairs))
    have: dict = {}
    for tx, loc, var, inst, mode, wild in zip(*(columns[f].tolist() for f in fields)):
        have.setdefault((tx, "wild" if wild else loc, var, inst if wild else None), set()).add(mode)
    plans = {k: maker.plan(f, calls[k][0], storage, written) for k, f in enumerate(functions) if f is not None}
    planned = {k for k, plan in plans.items() if plan is not None}
    for tx, loc, var, inst, mode, wild in zip(*(walked[f].tolist() for f in fields)):
        if tx not in planned:
            continue
        found = set() if wild else have.get((tx, loc, var, None), set())
        found |= have.get((tx, "wild", var, inst), set())
        assert found & covers[mode], (functions[tx].qualname, loc, var, mode, wild)
    looked = {k for k in planned if any(type(s) is Looked for c in plans[k] for s in c.sources)}
    names = list(column_sources)
    got = [{r for r in zip(*(t[f].tolist() for f in names)) if r[0] in looked}
           for t in (column_sources, walked_sources)]
    # Where the walk kept every access the columns hold (its guards cut none: a transaction that
    # reverts before its key read, say, has the walk record no source for it), the columns' sources
    # are among the walk's (which also records what its guards read).
    kept = [{r for r in zip(*(t[f].tolist() for f in fields)) if r[0] in looked} for t in (columns, walked)]
    whole = {tx for tx in looked if {r for r in kept[0] if r[0] == tx} == {r for r in kept[1] if r[0] == tx}}
    assert {r for r in got[0] if r[0] in whole} <= got[1]
    assert {r[0] for r in got[0]} == looked  # (each such transaction's key read recorded)


def compiled_covers_accesses(chain: Chain, txs: list[dict], number: int) -> None:
    """The static DAG's accesses of each transaction of ``txs`` (``chain.schedule``: the compiled
    instantiation, on the state before the block, with the values earlier transactions may write
    forwarded) cover every access the transaction makes (the oracle's ``trace_accesses``): its
    location in a mode that conflicts with at least as much (a write covers all; an add, an add; an
    add beside a read or a write of its location is both), or a wildcard of its variable at its
    instance or at every one.  The oracle's DAG needs a pair of transactions on one location to
    show an access dropped; this needs none."""
    from compiler.runtime.block import prepare
    from compiler.runtime.oracle import trace_accesses
    from compiler.schedule.compiled import WILD
    from compiler.schedule.dag import A, R, W

    raw = raw_block(txs)
    static = chain.schedule(raw, number=number, keep_accesses=True)
    traced = trace_accesses(chain, prepare(chain.world, raw, trace=True), number, 12 * number)
    covers = {R: {R, W}, W: {W}, A: {A, W}}
    for k, (kept, made) in enumerate(zip(static.accesses, traced)):
        got: dict = {}
        for loc, mode in kept:
            got.setdefault(loc, set()).add(mode)
        for modes in got.values():
            if A in modes and modes & {R, W}:
                modes.update((R, W))
        for (address, vid, key), mode in made:
            places = [(address, vid, key), (address, vid, WILD), (None, vid, WILD)]
            assert any(covers[mode] & got.get(place, set()) for place in places), (
                f"transaction #{k} ({static.txs[k].function.qualname}{tuple(static.txs[k].args)}) made a "
                f"{'rwa'[mode]} of {static.compiled.describe((address, vid, key))}, not among its static "
                f"accesses: {sorted((static.compiled.describe(p), sorted(m)) for p, m in got.items())}")
