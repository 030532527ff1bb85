"""``lane gen``: deterministic synthetic workloads over the example contracts.

    lane gen OUTDIR [--workload transfers|swaps|defi] [--transactions N] [--accounts A]
                    [--zipf S] [--pools K] [--hot-share P] [--seed X]

writes into OUTDIR (created if missing; these files are overwritten):

- ``world.toml``: the example contracts the workload needs, all deployed by
  ``admin`` (so ``admin`` holds every token's supply and owns the oracle and
  the staking contract);
- the ``.lane`` files it deploys, copied from Lane's examples (shipped in the
  package: :mod:`compiler.resources`), so OUTDIR is self-contained and can be moved;
- ``setup.jsonl``: a block that seeds the contracts (pool liquidity, oracle
  prices, lending liquidity, staking rewards, a DAO treasury and proposals,
  NFTs for sale) and gives every account the workload uses each token it will
  spend (``FUND`` units) and every approval it needs (unlimited);
- ``block.jsonl``: the workload, N transactions.

Run the two blocks in order, as blocks 1 and 2 of one state::

    lane run OUTDIR/world.toml OUTDIR/setup.jsonl --state s.sqlite
    lane run OUTDIR/world.toml OUTDIR/block.jsonl --state s.sqlite   # or: lane schedule ...

Accounts are ``u0`` .. ``u{A-1}`` (addresses derived from the names). Who
acts is drawn with a Zipf law of exponent S over the accounts: account ``u<k>``
is drawn with probability proportional to 1 / (k+1)^S, so ``u0`` is the
busiest; S = 0 is uniform. A counterparty (receiver, seller, payee) is drawn
by the same law among the *other* accounts: nobody pays themselves.

Workloads:

- ``transfers``: ``Token.transfer`` of 1..1000 ``usdc`` from a sender to a
  receiver. This is the peer-to-peer benchmark of Block-STM (Gelashvili et al.
  2022): with ``--accounts`` 2, 10, 100, 1000, 10000 and ``--zipf 0`` it gives
  their grid, from fully sequential (2 accounts: every transfer conflicts with
  the previous one) to embarrassingly parallel. Every transaction succeeds.
- ``swaps``: ``Pool.swap`` on K constant-product pools, each over a pair of
  tokens (``usdc``, ``weth``, ``dai``, ``gov``, then ``tok4``, ``tok5``, ...
  as K needs: ``pool0`` is usdc/weth, ``pool1`` usdc/dai, ``pool2`` weth/dai,
  ``pool3`` usdc/gov, ...). With probability P (``--hot-share``) a swap goes
  to ``pool0``, the hot pool; otherwise its pool is drawn with the Zipf law
  over the K pools (``pool0`` first). The trader is Zipf over the accounts,
  the direction is a coin flip, the input is 1_000..1_000_000 units against
  10^15 of liquidity a side, and ``min_out`` is 0: every swap on one pool
  conflicts with the others on that pool (both write its reserves).
- ``defi``: a mix in the spirit of the demo's DeFi day, with the same knobs:
  50% token transfers (of usdc, weth, dai or gov), 25% swaps (as above), 8%
  lending (supply, deposit_collateral, borrow, repay: borrow usdc against
  weth), 6% staking (stake dai, claim gov, withdraw), 5% NFTs (mint, list,
  buy for usdc), 3% DAO (propose, vote with gov), 2% escrow (open, release,
  claim in usdc) and 1% payment splitting (split dai among 2 to 4 payees).
  The generator follows the state the block builds (who owns which NFT, who
  has collateral, stake or debt, which deals are open) so that nearly every
  transaction succeeds; an action that is not possible yet is replaced by the
  one that makes it possible (a ``list`` with no NFT to list becomes a
  ``mint``). Follow-up actions on an object (list an NFT, release or claim
  an escrow deal) are sent by the object's owner, not by a Zipf draw.
- ``savings``: heavy transactions, ``Savings.accrue`` (examples/savings.lane)
  by Zipf-drawn accounts, each of which deposited in setup. An accrual
  computes a 25-term exponential in fixed point (about 15 us of execution,
  ten times a transfer) and touches only its caller's balance and clock, and
  adds to one shared total: with many accounts the block is embarrassingly
  parallel, with few every account's accruals form a chain.

Everything is a function of the options and ``--seed``: one
``random.Random(seed)`` drives all choices and no set or hash order leaks into
the output, so the same command writes byte-identical files.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from .diagnostics import LaneError
from .resources import examples_dir
from .vm.values import U256_MAX, derive_address

WORKLOADS = ("transfers", "swaps", "defi", "savings", "mixed")

ADMIN = "admin"
ADMIN_ADDRESS = "0x00000000000000000000000000000000000000ad"
BASE_TOKENS = ("usdc", "weth", "dai", "gov")
USDC, WETH, DAI, GOV = range(4)

SUPPLY = 10**36              # each token's supply, minted to admin
FUND = 10**18                # what an account gets of each token it spends
LIQUIDITY = 10**15           # each side of each pool
LENDING_LIQUIDITY = 10**15   # usdc admin supplies to the lending pool
REWARD = 604_800 * 10**6     # staking rewards: 10^6 gov a second for a week
DAO_TREASURY = 10**12
SETUP_PROPOSALS = 3          # DAO proposals made by admin in setup
SETUP_NFTS = 16              # NFTs admin mints and lists in setup
WETH_PRICE = 2000            # in usdc, as in the demo
LTV = 1500                   # borrow limit in usdc per weth: 2000 * 75%

MAX_ACCOUNTS = 10**9
MAX_ZIPF_ACCOUNTS = 10**7    # a Zipf law keeps one float per account
MAX_POOLS = 10_000
CHUNK = 1 << 15              # lines written at a time

# Contract type -> the example file that declares it.
SOURCES = {
    "Token": "token.lane", "Pool": "amm.lane", "PriceOracle": "oracle.lane",
    "LendingPool": "lending.lane", "Staking": "staking.lane", "Nft": "nft.lane",
    "Dao": "dao.lane", "Escrow": "escrow.lane", "Splitter": "splitter.lane", "Savings": "savings.lane",
}
IMPORTS = {"amm.lane": ["token.lane"], "lending.lane": ["token.lane", "oracle.lane"],
           "staking.lane": ["token.lane"], "nft.lane": ["token.lane"], "dao.lane": ["token.lane"],
           "escrow.lane": ["token.lane"], "splitter.lane": ["token.lane"], "savings.lane": ["token.lane"]}

# defi: (share in %, category), in the order the draw tests them.
DEFI_MIX = ((50, "transfer"), (25, "swap"), (8, "lending"), (6, "staking"), (5, "nft"),
            (3, "dao"), (2, "escrow"), (1, "splitter"))


@dataclass(frozen=True)
class GenOptions:
    workload: str = "transfers"
    transactions: int = 1000
    accounts: int = 100
    zipf: float = 0.0
    pools: int = 4
    hot_share: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        def bad(message: str) -> LaneError:
            return LaneError(message, code="usage")

        if self.workload not in WORKLOADS:
            raise bad(f"unknown workload '{self.workload}' (choose from: {', '.join(WORKLOADS)})")
        if self.transactions < 1:
            raise bad(f"--transactions must be at least 1, found {self.transactions}")
        if not 2 <= self.accounts <= MAX_ACCOUNTS:
            raise bad(f"--accounts must be between 2 and {MAX_ACCOUNTS:_}, found {self.accounts}")
        if not (math.isfinite(self.zipf) and self.zipf >= 0):
            raise bad(f"--zipf must be a number >= 0 (0: uniform), found {self.zipf}")
        if self.zipf > 0 and self.accounts > MAX_ZIPF_ACCOUNTS:
            raise bad(f"--zipf over more than {MAX_ZIPF_ACCOUNTS:_} accounts is not supported "
                      f"(found {self.accounts:_}); use --zipf 0 or fewer accounts")
        if not 1 <= self.pools <= MAX_POOLS:
            raise bad(f"--pools must be between 1 and {MAX_POOLS:_}, found {self.pools}")
        if not (math.isfinite(self.hot_share) and 0 <= self.hot_share <= 1):
            raise bad(f"--hot-share must be between 0 and 1, found {self.hot_share}")

    def describe(self) -> str:
        text = f"{self.workload}, {self.transactions} transactions, {self.accounts} accounts, zipf {self.zipf:g}"
        if self.workload in ("swaps", "defi"):
            text += f", {self.pools} pool{'s' if self.pools != 1 else ''}, hot share {self.hot_share:g}"
        return text + f", seed {self.seed}"


@dataclass
class GenResult:
    options: GenOptions
    outdir: Path
    world: Path
    setup: Path
    block: Path
    setup_transactions: int
    block_transactions: int
    accounts_used: int
    kinds: dict[str, int] = field(default_factory=dict)   # "Contract.function" -> count in the block

    def summary(self) -> str:
        return (f"wrote {self.block_transactions} transactions ({self.options.describe()}) to "
                f"{os.path.normpath(self.block)}, {self.setup_transactions} setup transactions for "
                f"{self.accounts_used} accounts to {os.path.normpath(self.setup)}, and "
                f"{os.path.normpath(self.world)}")


# --------------------------------------------------------------------------- sampling

class Zipf:
    """Ranks 0..n-1, rank k with probability proportional to 1/(k+1)^s (s = 0: uniform)."""

    def __init__(self, rng: Random, n: int, s: float) -> None:
        self.n = n
        self.random = rng.random
        self.cum: list[float] | None = None
        if s > 0 and n > 1:
            self.weights = [(k + 1) ** -s for k in range(n)]
            self.cum = list(itertools.accumulate(self.weights))
            self.total = self.cum[-1]

    def draw(self) -> int:
        if self.cum is None:
            return int(self.random() * self.n)
        return bisect.bisect_right(self.cum, self.random() * self.total, 0, self.n - 1)

    def draw_other(self, not_this: int) -> int:
        """A rank other than ``not_this``, by the same law restricted to the other ranks (n >= 2)."""
        n = self.n
        if self.cum is None:
            r = int(self.random() * (n - 1))
            return r + 1 if r >= not_this else r
        w = self.weights[not_this]
        u = self.random() * (self.total - w)
        if u >= self.cum[not_this] - w:
            u += w   # skip over not_this's interval
        r = bisect.bisect_right(self.cum, u, 0, n - 1)
        if r == not_this:  # only by rounding
            r = not_this + 1 if not_this + 1 < n else not_this - 1
        return r


class Bag:
    """A list with O(1) removal of any element and a seeded random pick."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.where: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, x: int) -> None:
        self.where[x] = len(self.items)
        self.items.append(x)

    def remove(self, x: int) -> None:
        i = self.where.pop(x)
        last = self.items.pop()
        if last != x:
            self.items[i] = last
            self.where[last] = i

    def pick(self, rng: Random) -> int:
        return self.items[int(rng.random() * len(self.items))]


def _between(rng: Random, lo: int, hi: int) -> int:
    """An integer in lo..hi (faster than randint, and as deterministic)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _u(n: int) -> int | str:
    """A u256 for a block file: a JSON number while every JSON reader holds it exactly, else a string."""
    return n if n < 2**53 else str(n)


def _line(sender: str, to: str, fn: str, args: list) -> str:
    return json.dumps({"from": sender, "to": to, "fn": fn, "args": args}) + "\n"


# --------------------------------------------------------------------------- the world

def token_names(count: int) -> list[str]:
    return [BASE_TOKENS[i] if i < len(BASE_TOKENS) else f"tok{i}" for i in range(count)]


def pool_pairs(k: int) -> tuple[int, list[tuple[int, int]]]:
    """The fewest tokens with k distinct pairs, and the first k pairs (i < j) in the order
    (0,1), (0,2), (1,2), (0,3), (1,3), (2,3), ...: adding a token only adds pairs."""
    m = 2
    while m * (m - 1) // 2 < k:
        m += 1
    pairs = [(i, j) for j in range(1, m) for i in range(j)]
    return m, pairs[:k]


def _toml(value: Any) -> str:
    if isinstance(value, int):
        return str(value) if value < 2**63 else json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(_toml(v) for v in value) + "]"


class _World:
    def __init__(self) -> None:
        self.deploys: list[tuple[str, str, list, str | None]] = []   # name, contract, args, comment

    def deploy(self, name: str, contract: str, args: list | None = None, comment: str | None = None) -> None:
        self.deploys.append((name, contract, args or [], comment))

    def sources(self) -> list[str]:
        files: list[str] = []
        for _, contract, _, _ in self.deploys:
            for f in [SOURCES[contract], *IMPORTS.get(SOURCES[contract], [])]:
                if f not in files:
                    files.append(f)
        return sorted(files)

    def text(self, options: GenOptions) -> str:
        out = [
            f"# Generated by `lane gen` ({options.describe()}).",
            "# Run setup.jsonl, then block.jsonl, as blocks 1 and 2 of one state:",
            "#   lane run world.toml setup.jsonl --state s.sqlite",
            "#   lane run world.toml block.jsonl --state s.sqlite      (or: lane schedule ...)",
            "# Accounts u0, u1, ... have addresses derived from their names; admin deploys",
            "# everything and so starts with every token's supply.",
            "",
            "[accounts]",
            f'{ADMIN} = "{ADMIN_ADDRESS}"',
        ]
        for name, contract, args, comment in self.deploys:
            out.append("")
            if comment:
                out.append(f"# {comment}")
            out += ["[[deploy]]", f"name = {_toml(name)}", f"source = {_toml(SOURCES[contract])}",
                    f"contract = {_toml(contract)}", f"sender = {_toml(ADMIN)}"]
            if args:
                out.append(f"args = {_toml(args)}")
        return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- generation

class _Gen:
    """The state of one generation: the world, what each account needs, and the block being built."""

    def __init__(self, options: GenOptions) -> None:
        self.o = options
        self.rng = Random(options.seed)
        self.accounts = Zipf(self.rng, options.accounts, options.zipf)
        self.world = _World()
        self.setup: list[str] = []
        self.after_funding: list[str] = []                   # setup that needs the funds and approvals
        self.funds: dict[int, set[int]] = {}                 # account -> tokens it spends
        self.approvals: dict[int, set[tuple[int, str]]] = {}  # account -> (token, spender)
        self.kinds: dict[str, int] = {}
        self.tokens: list[str] = []
        self.pools: list[tuple[str, int, int]] = []           # name, token0, token1

    # --- world and seeding
    def deploy_tokens_and_pools(self, min_tokens: int, with_pools: bool) -> None:
        m, pairs = pool_pairs(self.o.pools) if with_pools else (0, [])
        self.tokens = token_names(max(m, min_tokens))
        for name in self.tokens:
            self.world.deploy(name, "Token", [SUPPLY])
        for k, (i, j) in enumerate(pairs):
            t0, t1 = self.tokens[i], self.tokens[j]
            name = f"pool{k}"
            self.pools.append((name, i, j))
            self.world.deploy(name, "Pool", [t0, t1], f"{t0}/{t1}" + (" (the hot pool)" if k == 0 else ""))
            self.setup_tx(ADMIN, t0, "approve", [name, _u(LIQUIDITY)])
            self.setup_tx(ADMIN, t1, "approve", [name, _u(LIQUIDITY)])
            self.setup_tx(ADMIN, name, "add_liquidity", [_u(LIQUIDITY), _u(LIQUIDITY)])
        if with_pools:
            self.pool_zipf = Zipf(self.rng, len(self.pools), self.o.zipf)

    def setup_tx(self, sender: str, to: str, fn: str, args: list) -> None:
        self.setup.append(_line(sender, to, fn, args))

    def fund(self, acct: int, token: int) -> None:
        s = self.funds.get(acct)
        if s is None:
            s = self.funds[acct] = set()
        s.add(token)

    def approve(self, acct: int, token: int, spender: str) -> None:
        self.fund(acct, token)
        s = self.approvals.get(acct)
        if s is None:
            s = self.approvals[acct] = set()
        s.add((token, spender))

    def funding_lines(self) -> list[str]:
        lines = []
        for acct in sorted(self.funds):
            for t in sorted(self.funds[acct]):
                lines.append(_line(ADMIN, self.tokens[t], "transfer", [f"u{acct}", _u(FUND)]))
        max_str = str(U256_MAX)
        for acct in sorted(self.approvals):
            for t, spender in sorted(self.approvals[acct]):
                lines.append(_line(f"u{acct}", self.tokens[t], "approve", [spender, max_str]))
        return lines

    # --- transactions shared by the workloads
    def swap(self) -> tuple:
        rng = self.rng
        hot = self.o.hot_share
        k = 0 if hot and rng.random() < hot else self.pool_zipf.draw()
        name, i, j = self.pools[k]
        trader = self.accounts.draw()
        t_in = i if rng.random() < 0.5 else j
        self.approve(trader, t_in, name)
        return (f"u{trader}", name, "swap", [self.tokens[t_in], _between(rng, 1_000, 1_000_000), 0])


def _transfers(g: _Gen, out) -> None:
    """The Block-STM p2p workload, with a fast path: about 1 µs a transaction."""
    g.world.deploy("usdc", "Token", [SUPPLY])
    g.tokens = ["usdc"]
    _transfer_lines(g, out, g.o.transactions)


def _transfer_lines(g: _Gen, out, n: int) -> None:
    rand = g.rng.random
    draw, draw_other = g.accounts.draw, g.accounts.draw_other
    senders: set[int] = set()
    for start in range(0, n, CHUNK):
        lines = []
        for _ in range(min(CHUNK, n - start)):
            s = draw()
            r = draw_other(s)
            senders.add(s)
            lines.append(f'{{"from": "u{s}", "to": "usdc", "fn": "transfer", '
                         f'"args": ["u{r}", {1 + int(rand() * 1000)}]}}\n')
        out.writelines(lines)
    for s in senders:
        g.funds.setdefault(s, set()).add(0)
    g.kinds["Token.transfer"] = g.kinds.get("Token.transfer", 0) + n


def _swaps(g: _Gen, out) -> None:
    g.deploy_tokens_and_pools(2, True)
    n = g.o.transactions
    swap = g.swap
    for start in range(0, n, CHUNK):
        lines = []
        for _ in range(min(CHUNK, n - start)):
            sender, pool, _, (token, amount, _) = swap()   # names need no JSON escaping
            lines.append(f'{{"from": "{sender}", "to": "{pool}", "fn": "swap", "args": ["{token}", {amount}, 0]}}\n')
        out.writelines(lines)
    g.kinds["Pool.swap"] = n


class _Defi:
    """The defi mix; it tracks the state the block builds so that nearly everything succeeds."""

    def __init__(self, g: _Gen) -> None:
        self.g = g
        rng, acc = g.rng, g.accounts
        g.deploy_tokens_and_pools(len(BASE_TOKENS), True)
        w = g.world
        w.deploy("oracle", "PriceOracle", [], "weth $2000, usdc and dai $1 (set in setup)")
        w.deploy("lending", "LendingPool", ["weth", "usdc", "oracle"], "borrow usdc against weth")
        w.deploy("staking", "Staking", ["dai", "gov"], "stake dai, earn gov")
        w.deploy("nft", "Nft", ["usdc"], "NFTs sold for usdc")
        w.deploy("dao", "Dao", ["gov"], "votes weighted by gov balances")
        w.deploy("escrow", "Escrow", ["usdc", ADMIN], "usdc deals; admin arbitrates")
        w.deploy("splitter", "Splitter")

        one = str(10**18)
        g.setup_tx(ADMIN, "oracle", "set_prices",
                   [["weth", "usdc", "dai"], [str(WETH_PRICE * 10**18), one, one]])
        g.setup_tx(ADMIN, "usdc", "approve", ["lending", _u(LENDING_LIQUIDITY)])
        g.setup_tx(ADMIN, "lending", "supply", [_u(LENDING_LIQUIDITY)])
        g.setup_tx(ADMIN, "gov", "approve", ["staking", _u(REWARD)])
        g.setup_tx(ADMIN, "staking", "notify_reward", [_u(REWARD)])
        g.setup_tx(ADMIN, "gov", "transfer", ["dao", _u(DAO_TREASURY)])
        for _ in range(SETUP_PROPOSALS):
            g.setup_tx(ADMIN, "dao", "propose", [f"u{acc.draw()}", _between(rng, 1_000, 100_000)])
        self.proposals = SETUP_PROPOSALS
        self.voted: set[tuple[int, int]] = set()

        # NFTs: owner (-1: admin), listing price; ``listed`` and ``unlisted`` (user-owned) bags.
        self.nft_owner: dict[int, int] = {}
        self.nft_price: dict[int, int] = {}
        self.listed, self.unlisted = Bag(), Bag()
        for nft_id in range(1, SETUP_NFTS + 1):
            price = _between(rng, 100, 10_000)
            g.setup_tx(ADMIN, "nft", "mint", [nft_id, 0])
            g.setup_tx(ADMIN, "nft", "list", [nft_id, price])
            self.nft_owner[nft_id], self.nft_price[nft_id] = -1, price
            self.listed.add(nft_id)
        self.next_nft = SETUP_NFTS + 1

        self.collateral: dict[int, int] = {}
        self.debt: dict[int, int] = {}
        self.staked: dict[int, int] = {}
        self.deals: dict[int, tuple[int, int]] = {}     # id -> (buyer, seller)
        self.funded, self.released = Bag(), Bag()
        self.next_deal = 1

        self.mix: list[tuple[float, Any]] = []
        acc_share = 0
        for share, name in DEFI_MIX:
            acc_share += share
            self.mix.append((acc_share / 100, getattr(self, name)))

    def next(self) -> tuple:
        r = self.g.rng.random()
        for bound, make in self.mix:
            if r < bound:
                return make()
        return self.mix[-1][1]()

    # --- categories
    def transfer(self) -> tuple:
        g, rng = self.g, self.g.rng
        r = rng.random()
        token = USDC if r < 0.4 else WETH if r < 0.6 else DAI if r < 0.85 else GOV
        s = g.accounts.draw()
        g.fund(s, token)
        return (f"u{s}", self.g.tokens[token], "transfer",
                [f"u{g.accounts.draw_other(s)}", _between(rng, 1, 10_000)])

    def swap(self) -> tuple:
        return self.g.swap()

    def lending(self) -> tuple:
        g, rng = self.g, self.g.rng
        a = g.accounts.draw()
        r = rng.random()
        coll, debt = self.collateral.get(a, 0), self.debt.get(a, 0)
        headroom = coll * LTV - debt
        if r < 0.15:
            g.approve(a, USDC, "lending")
            return (f"u{a}", "lending", "supply", [_between(rng, 100, 100_000)])
        if r >= 0.80 and debt > 0:
            amount = _between(rng, 1, debt)
            self.debt[a] = debt - amount
            g.approve(a, USDC, "lending")
            return (f"u{a}", "lending", "repay", [amount])
        if r >= 0.45 and headroom >= 2:
            amount = _between(rng, 1, headroom // 2)
            self.debt[a] = debt + amount
            return (f"u{a}", "lending", "borrow", [amount])
        amount = _between(rng, 1, 100)
        self.collateral[a] = coll + amount
        g.approve(a, WETH, "lending")
        return (f"u{a}", "lending", "deposit_collateral", [amount])

    def staking(self) -> tuple:
        g, rng = self.g, self.g.rng
        a = g.accounts.draw()
        staked = self.staked.get(a, 0)
        r = rng.random()
        if staked and r >= 0.8:
            amount = _between(rng, 1, staked)
            self.staked[a] = staked - amount
            return (f"u{a}", "staking", "withdraw", [amount])
        if staked and r >= 0.5:
            return (f"u{a}", "staking", "claim", [])
        amount = _between(rng, 100, 100_000)
        self.staked[a] = staked + amount
        g.approve(a, DAI, "staking")
        return (f"u{a}", "staking", "stake", [amount])

    def nft(self) -> tuple:
        g, rng = self.g, self.g.rng
        r = rng.random()
        if r >= 0.6 and self.listed:
            nft_id = self.listed.pick(rng)
            owner = self.nft_owner[nft_id]
            buyer = g.accounts.draw()
            if buyer == owner:
                buyer = g.accounts.draw_other(owner)
            price = self.nft_price.pop(nft_id)
            self.listed.remove(nft_id)
            self.unlisted.add(nft_id)
            self.nft_owner[nft_id] = buyer
            g.approve(buyer, USDC, "nft")
            return (f"u{buyer}", "nft", "buy", [nft_id, price])
        if r >= 0.35 and self.unlisted:
            nft_id = self.unlisted.pick(rng)
            price = _between(rng, 100, 10_000)
            self.unlisted.remove(nft_id)
            self.listed.add(nft_id)
            self.nft_price[nft_id] = price
            return (f"u{self.nft_owner[nft_id]}", "nft", "list", [nft_id, price])
        a = g.accounts.draw()
        nft_id = self.next_nft
        self.next_nft += 1
        self.nft_owner[nft_id] = a
        self.unlisted.add(nft_id)
        return (f"u{a}", "nft", "mint", [nft_id, _between(rng, 0, 1_000)])

    def dao(self) -> tuple:
        g, rng = self.g, self.g.rng
        a = g.accounts.draw()
        g.fund(a, GOV)
        if rng.random() < 0.75:
            for _ in range(4):
                pid = 1 + int(rng.random() * self.proposals)
                if (pid, a) not in self.voted:
                    self.voted.add((pid, a))
                    return (f"u{a}", "dao", "vote", [pid, rng.random() < 0.7])
        self.proposals += 1
        return (f"u{a}", "dao", "propose", [f"u{g.accounts.draw_other(a)}", _between(rng, 1_000, 100_000)])

    def escrow(self) -> tuple:
        g, rng = self.g, self.g.rng
        r = rng.random()
        if r >= 0.8 and self.released:
            deal = self.released.pick(rng)
            self.released.remove(deal)
            return (f"u{self.deals[deal][1]}", "escrow", "claim", [deal])
        if r >= 0.5 and self.funded:
            deal = self.funded.pick(rng)
            self.funded.remove(deal)
            self.released.add(deal)
            return (f"u{self.deals[deal][0]}", "escrow", "release", [deal])
        buyer = g.accounts.draw()
        seller = g.accounts.draw_other(buyer)
        deal = self.next_deal
        self.next_deal += 1
        self.deals[deal] = (buyer, seller)
        self.funded.add(deal)
        g.approve(buyer, USDC, "escrow")
        return (f"u{buyer}", "escrow", "open",
                [deal, f"u{seller}", _between(rng, 100, 100_000), _between(rng, 3_600, 30 * 86_400)])

    def splitter(self) -> tuple:
        g, rng = self.g, self.g.rng
        a = g.accounts.draw()
        want = min(2 + int(rng.random() * 3), g.o.accounts)
        payees = [g.accounts.draw()]
        for _ in range(16 * want):   # distinct payees by rejection (a few tries suffice but for extreme S)
            if len(payees) == want:
                break
            p = g.accounts.draw_other(payees[-1])
            if p not in payees:
                payees.append(p)
        payees.sort(key=lambda k: derive_address(f"u{k}"))
        shares = [_between(rng, 1, 100) for _ in payees]
        g.approve(a, DAI, "splitter")
        return (f"u{a}", "splitter", "split",
                ["dai", [f"u{p}" for p in payees], shares, _between(rng, 100, 100_000)])


CONTRACT_OF = {"lending": "LendingPool", "staking": "Staking", "nft": "Nft", "dao": "Dao",
               "escrow": "Escrow", "splitter": "Splitter"}


def _defi(g: _Gen, out) -> None:
    d = _Defi(g)
    n = g.o.transactions
    kinds: dict[tuple[str, str], int] = {}
    for start in range(0, n, CHUNK):
        lines = []
        for _ in range(min(CHUNK, n - start)):
            tx = d.next()
            key = (tx[1], tx[2])
            kinds[key] = kinds.get(key, 0) + 1
            lines.append(_line(*tx))
        out.writelines(lines)
    for (to, fn), count in sorted(kinds.items()):
        contract = "Pool" if to.startswith("pool") else CONTRACT_OF.get(to, "Token")
        name = f"{contract}.{fn}"
        g.kinds[name] = g.kinds.get(name, 0) + count


SAVINGS_RATE = 5 * 10**16   # 5% a year, scaled by 10^18
SAVINGS_DEPOSIT = 10**15


def _savings(g: _Gen, out) -> None:
    """Heavy, mostly independent transactions: each ``accrue`` computes a 25-term exponential."""
    _deploy_savings(g)
    _accrue_lines(g, out, g.o.transactions)


def _mixed(g: _Gen, out) -> None:
    """A heterogeneous block: token transfers for its first half, savings accruals (several times
    heavier) for the rest."""
    _deploy_savings(g)
    _transfer_lines(g, out, g.o.transactions // 2)
    _accrue_lines(g, out, g.o.transactions - g.o.transactions // 2)


def _deploy_savings(g: _Gen) -> None:
    g.world.deploy("usdc", "Token", [SUPPLY])
    g.world.deploy("savings", "Savings", ["usdc", SAVINGS_RATE], "5% a year, compounded continuously")
    g.tokens = ["usdc"]


def _accrue_lines(g: _Gen, out, n: int) -> None:
    draw = g.accounts.draw
    savers: set[int] = set()
    for start in range(0, n, CHUNK):
        lines = []
        for _ in range(min(CHUNK, n - start)):
            s = draw()
            savers.add(s)
            lines.append(f'{{"from": "u{s}", "to": "savings", "fn": "accrue", "args": []}}\n')
        out.writelines(lines)
    for s in sorted(savers):
        g.approve(s, USDC, "savings")
        g.after_funding.append(_line(f"u{s}", "savings", "deposit", [_u(SAVINGS_DEPOSIT)]))
    g.kinds["Savings.accrue"] = n


def _write(path: Path, data: str | bytes) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return  # also covers OUTDIR being examples/ itself
    path.write_bytes(data)


def generate(outdir: str | os.PathLike, options: GenOptions) -> GenResult:
    """Write OUTDIR/world.toml, setup.jsonl, block.jsonl and the contracts they need (see the module doc)."""
    options.validate()
    examples = examples_dir(SOURCES.values())
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise LaneError(f"{os.path.normpath(out)} exists and is not a folder", code="io")
    try:
        out.mkdir(parents=True, exist_ok=True)
        g = _Gen(options)
        block = out / "block.jsonl"
        with open(block, "w", encoding="utf-8", newline="\n") as f:
            {"transfers": _transfers, "swaps": _swaps, "defi": _defi, "savings": _savings,
             "mixed": _mixed}[options.workload](g, f)
        g.setup += g.funding_lines() + g.after_funding
        setup = out / "setup.jsonl"
        _write(setup, "".join(g.setup))
        world = out / "world.toml"
        _write(world, g.world.text(options))
        for name in g.world.sources():
            _write(out / name, (examples / name).read_bytes())
    except OSError as err:
        raise LaneError(f"cannot write to {os.path.normpath(out)}: {err.strerror or err}", code="io") from None
    used = set(g.funds) | set(g.approvals)
    return GenResult(options, out, world, setup, block, len(g.setup), options.transactions, len(used),
                     dict(sorted(g.kinds.items())))
