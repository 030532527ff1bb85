"""Heavy calls in shapes heavy.py does not make: reverts, events, several instances, a call through
another contract, one function light then heavy by its argument, skewed senders, nested keys, two
accounts.

A contract whose functions run up to 200 rounds of arithmetic on their sender's seed (as heavy.py's
``mine``), blocks of ``-n`` calls of it from ``--accounts`` accounts:

- ``reverts``: ``mine_or_fail``, three calls in ten asked to fail after their rounds;
- ``events``: ``mine_emit``, an event every 50 rounds;
- ``instances``: ``mine`` on eight instances of the contract, at random;
- ``crosscall``: ``relay`` on a front contract that calls ``mine`` (every call then writes the
  front's seed: one chain, as serial as sequential);
- ``light_then_heavy_fns``: ``mine`` of 2 rounds for the first half, of 200 after (one function,
  its cost set by its argument);
- ``zipf_heavy``: ``mine`` from senders drawn with weight 1/(k+1);
- ``nested_maps``: ``mine_cells``, on ``cells[msg.sender][k]`` and ``cells[msg.sender][k + 1]``;
- ``two_accounts``: ``mine`` from two accounts (two chains);
- ``many_fns``: twelve functions of 20 to 240 rounds, each on a map of its own, called at random;
- ``pay_peers``: ``mine_pay``, its rounds then an add to a random account's credit (adds to one
  location from several lanes, merged);
- ``arrays``: ``mine_sum``, 100 rounds over an array argument of 32 elements (a long line to decode);
- ``stored_rounds``: ``mine_stored``, rounds read from storage: 200 for one sender in four (set by
  the setup block), none for the others (a call's cost only its state tells).

Each shape is measured as heavy.py measures (:func:`heavy.measure`): the machine's two-process
ceiling, the sequential executor and the parallel one with 2 workers as ``lane run`` runs it.

    python benchmarks/shapes.py [-n 20000] [--repeat 3] [--shapes reverts,events,...] [--chain K]

(``--chain K``: each block measured as the K-th of a chain, as in heavy.py.)
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heavy import _rounds, cli  # noqa: E402

WORK = """\
contract Work {
    storage seeds: map<address, u256>;
    storage cells: map<address, map<u256, u256>>;
    storage credit: map<address, u256>;
    storage rounds_of: map<address, u256>;
    event Done(who: address, h: u256);
""" + _rounds("mine", 200) + """
    pub fn mine_or_fail(rounds: u256, fail: bool) -> u256 {
        let h: u256 = mine(rounds);
        require(!fail, "asked to fail");
        return h;
    }

    pub fn mine_emit(rounds: u256) -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..min(rounds, 200) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
            if i % 50 == 0 { emit Done(msg.sender, h); }
        }
        seeds[msg.sender] = h;
        return h;
    }

    pub fn mine_pay(rounds: u256, to: address) -> u256 {
        let h: u256 = mine(rounds);
        credit[to] += 1;
        return h;
    }

    pub fn mine_sum(rounds: u256, xs: array<u256, 32>) -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..len(xs) {
            h = (h * 31 + xs[i]) % 18446744073709551616;
        }
        for i in 0..min(rounds, 200) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        return h;
    }

    pub fn set_rounds(r: u256) {
        rounds_of[msg.sender] = r;
    }

    pub fn mine_stored() -> u256 {
        let h: u256 = seeds[msg.sender] + 1;
        for i in 0..min(rounds_of[msg.sender], 200) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        seeds[msg.sender] = h;
        return h;
    }

    pub fn mine_cells(rounds: u256, k: u256) -> u256 {
        let h: u256 = cells[msg.sender][k] + 1;
        for i in 0..min(rounds, 200) {
            h = (h * 6364136223846793005 + 1442695040888963407) % 18446744073709551616;
        }
        cells[msg.sender][k] = h;
        cells[msg.sender][k + 1] += 1;
        return h;
    }
}

contract Many {
FNS
}

contract Front {
    storage work: Work;
    storage calls: map<address, u256>;

    init(w: Work) { work = w; }

    pub fn relay(rounds: u256) -> u256 {
        calls[msg.sender] += 1;
        return work.mine(rounds);
    }
}
"""

MANY = 12  # (``many_fns``: functions of 20, 40, ..., 240 rounds)
WORK = WORK.replace("FNS", "\n".join(
    f"    storage seeds{k}: map<address, u256>;" for k in range(MANY)) + "".join(
    _rounds(f"mine{k}", 20 * (k + 1)).replace("seeds[", f"seeds{k}[") for k in range(MANY)))

WORLD = """\
[accounts]
admin = "0x00000000000000000000000000000000000000ad"
"""

SHAPES = ("reverts", "events", "instances", "crosscall", "light_then_heavy_fns", "zipf_heavy", "nested_maps",
          "two_accounts", "many_fns", "pay_peers", "arrays", "stored_rounds")


def _deploy(name: str, contract: str, args: str = "[]") -> str:
    return (f'\n[[deploy]]\nname = "{name}"\nsource = "work.lane"\ncontract = "{contract}"\n'
            f'sender = "admin"\nargs = {args}\n')


def _call(sender: int, to: str, fn: str, args: list) -> str:
    return f'{{"from": "u{sender}", "to": "{to}", "fn": "{fn}", "args": {json.dumps(args)}}}\n'


def write(folder: Path, kind: str, n: int, accounts: int, seed: int) -> None:
    folder.mkdir(parents=True)
    (folder / "work.lane").write_text(WORK)
    world = WORLD + _deploy("work", "Work")
    rng = random.Random(seed)
    sender = lambda: rng.randrange(accounts)  # noqa: E731
    if kind == "reverts":
        lines = [_call(sender(), "work", "mine_or_fail", [200, rng.random() < 0.3]) for _ in range(n)]
    elif kind == "events":
        lines = [_call(sender(), "work", "mine_emit", [200]) for _ in range(n)]
    elif kind == "instances":
        world += "".join(_deploy(f"w{j}", "Work") for j in range(8))
        lines = [_call(sender(), f"w{rng.randrange(8)}", "mine", [200]) for _ in range(n)]
    elif kind == "crosscall":
        world += _deploy("front", "Front", '["work"]')
        lines = [_call(sender(), "front", "relay", [200]) for _ in range(n)]
    elif kind == "light_then_heavy_fns":
        lines = [_call(sender(), "work", "mine", [2 if k < n // 2 else 200]) for k in range(n)]
    elif kind == "zipf_heavy":
        senders = rng.choices(range(accounts), weights=[1 / (k + 1) for k in range(accounts)], k=n)
        lines = [_call(s, "work", "mine", [200]) for s in senders]
    elif kind == "nested_maps":
        lines = [_call(sender(), "work", "mine_cells", [200, rng.randrange(4)]) for _ in range(n)]
    elif kind == "two_accounts":
        lines = [_call(rng.randrange(2), "work", "mine", [200]) for _ in range(n)]
    elif kind == "many_fns":
        world += _deploy("many", "Many")
        lines = [_call(sender(), "many", f"mine{rng.randrange(MANY)}", [240]) for _ in range(n)]
    elif kind == "pay_peers":
        lines = [_call(sender(), "work", "mine_pay", [200, f"u{sender()}"]) for _ in range(n)]
    elif kind == "arrays":
        lines = [_call(sender(), "work", "mine_sum", [100, [rng.randrange(10**9) for _ in range(32)]])
                 for _ in range(n)]
    else:  # stored_rounds
        lines = [_call(sender(), "work", "mine_stored", []) for _ in range(n)]
    setup = [_call(0, "work", "mine", [1])]
    if kind == "stored_rounds":
        setup += [_call(a, "work", "set_rounds", [200]) for a in range(0, accounts, 4)]
    (folder / "world.toml").write_text(world)
    (folder / "setup.jsonl").write_text("".join(setup))
    (folder / "block.jsonl").write_text("".join(lines))


def main() -> None:
    cli(__doc__, SHAPES, write, "--shapes", ",".join(SHAPES), 3)


if __name__ == "__main__":
    main()
