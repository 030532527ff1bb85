"""``lane init DIR``: a new project that checks, analyses, runs and passes its tests out of the box.

It writes a contract, a world that deploys it, a block of transactions, tests
written with Lane's Python API (``from compiler import Chain``, docs/testing.md),
a ``pytest.ini`` so that ``pytest`` run in the folder finds them, and a README
with the next commands.  Every file is small and says what it is for: the
project is where a newcomer starts changing things.
"""

from __future__ import annotations

import os
from pathlib import Path

from .diagnostics import LaneError

CONTRACT = """\
// A counter per account, and the total of all of them.
//
// Two calls of bump by different accounts touch different counts, and
// `total += by` only adds to the total: two adds commute.  So lane analyze
// finds that any two calls of bump can run at the same time
// (Counter.bump x Counter.bump: never).
contract Counter {
    storage counts: map<address, u256>;
    storage total: u256;

    event Bumped(who: address, by: u256);

    pub fn bump(by: u256) {
        require(by > 0, "nothing to add");
        counts[msg.sender] += by;
        total += by;
        emit Bumped(msg.sender, by);
    }

    pub view fn count_of(who: address) -> u256 {
        return counts[who];
    }

    pub view fn total_count() -> u256 {
        return total;
    }
}
"""

WORLD = """\
# The world: named accounts, and the contracts deployed at genesis, in order.
# Any other name (bob) stands for an address derived from the name.

[accounts]
alice = "0x00000000000000000000000000000000000a11ce"

[[deploy]]
name = "counter"                     # the instance's name, used by blocks and lane call
source = "contracts/counter.lane"    # relative to this file
contract = "Counter"
sender = "alice"
"""

BLOCK = """\
{"from": "alice", "to": "counter", "fn": "bump", "args": [2]}
{"from": "bob", "to": "counter", "fn": "bump", "args": [3]}
{"from": "alice", "to": "counter", "fn": "bump", "args": [0]}
"""

TESTS = '''\
"""Tests of the Counter contract, written with Lane's Python API; run them with pytest."""

import json
from pathlib import Path

from compiler import Chain

PROJECT = Path(__file__).resolve().parent.parent
COUNTER = PROJECT / "contracts" / "counter.lane"


def test_bump_adds_to_the_callers_count_and_to_the_total():
    with Chain() as chain:
        alice, bob = chain.account("alice"), chain.account("bob")
        counter = chain.deploy(COUNTER, sender=alice)
        counter.bump(2, sender=alice)
        counter.bump(3, sender=bob)
        assert counter.count_of(alice) == 2
        assert counter.count_of(bob) == 3
        assert counter.total_count() == 5


def test_bumping_by_nothing_reverts():
    with Chain() as chain:
        counter = chain.deploy(COUNTER)
        with chain.reverts("nothing to add"):
            counter.bump(0)
        assert counter.total_count() == 0


def test_the_block_runs_in_parallel_as_in_order():
    """The project's block, on the parallel executor: the same receipts as one after the other."""
    lines = (PROJECT / "block.jsonl").read_text().splitlines()
    block = [json.loads(line) for line in lines if line.strip()]
    outcomes = {}
    for executor in ("sequential", "parallel"):
        with Chain() as chain:
            chain.deploy(COUNTER, sender=chain.account("alice"), name="counter")
            run = chain.run_block(block, executor=executor, workers=2)
            outcomes[executor] = [(r.status, r.reason) for r in run.receipts]
    assert outcomes["parallel"] == outcomes["sequential"] == [
        ("ok", None), ("ok", None), ("reverted", "nothing to add")]
'''

PYTEST_INI = """\
[pytest]
testpaths = tests
"""

README = """\
# {name}: a Lane project

| file | what |
| --- | --- |
| `contracts/counter.lane` | the contract: a counter per account, and their total |
| `world.toml` | the world: the account `alice`, and `counter`, a deployed `Counter` |
| `block.jsonl` | a block: three transactions, one a line |
| `tests/test_counter.py` | its tests, written with Lane's Python API |

Next, in this folder:

```sh
lane check contracts/counter.lane                        # syntax, types, loop bounds; hot-spot warnings
lane analyze contracts/counter.lane                      # what each function touches; which calls conflict
lane run world.toml block.jsonl --state chain.sqlite     # run the block; the state is kept in chain.sqlite
lane call world.toml counter count_of alice --state chain.sqlite
lane state show --state chain.sqlite                     # the file's last block and roots
pytest -q                                                # the tests
```

Then change the contract: add a function, run `lane analyze` to see what it
conflicts with, and write its test.  A changed contract is another world for
`chain.sqlite`: start a new state file (`--state new.sqlite`).
"""

FILES = {
    "contracts/counter.lane": (CONTRACT, "the Counter contract"),
    "world.toml": (WORLD, "deploys it"),
    "block.jsonl": (BLOCK, "a block of three transactions"),
    "tests/test_counter.py": (TESTS, "its tests, with Lane's Python API"),
    "pytest.ini": (PYTEST_INI, "so that pytest finds them"),
    "README.md": (README, "what to run next"),
}


def init_project(folder: str | os.PathLike) -> list[str]:
    """Write a new project into ``folder`` (new, or empty); the lines that say what was written."""
    root = Path(folder)
    shown = os.path.normpath(folder)
    if root.exists() and not root.is_dir():
        raise LaneError(f"{shown} exists and is not a folder", code="init")
    if root.is_dir() and any(root.iterdir()):
        raise LaneError(f"{shown} is not empty: lane init writes a new project into a new or empty folder",
                        code="init")
    name = root.resolve().name or "project"
    try:
        for rel, (text, _) in FILES.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.format(name=name) if rel == "README.md" else text, encoding="utf-8")
    except OSError as err:
        raise LaneError(f"cannot write the project into {shown}: {err.strerror or err}", code="init") from None
    width = max(len(rel) for rel in FILES) + len(shown) + 1
    lines = [f"created {shown}: a contract, a world, a block and tests"]
    lines += [f"  {(shown + '/' + rel):<{width}}  {what}" for rel, (_, what) in FILES.items()]
    lines.append(f"next: cd {shown}, then follow its README.md (lane check, lane analyze, lane run, pytest)")
    return lines
