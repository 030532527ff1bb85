"""What summaries say beyond locations (docs/analysis.md): guards, facts and stored values.

- Every access carries its *guard*: the ``require`` conditions (and the
  negations of branches that revert) the call passed to get there, its callees'
  included, but not those of a loop's body after the loop nor of a call in the
  right operand of ``&&``/``||`` that may not run.  Instantiation drops an
  access whose guard is false.
- An equality in a ``require`` is a *fact*: the value read from storage is
  replaced by the other side on the path after it.
- A write records the value it stores, when it can be said.

The conflict table does not change with guards (they are about success, not
locations), only with facts, which make keys exact.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from compiler.analysis import symbolic as S
from compiler.analysis.report import function_json
from compiler.analysis.summary import ADD, READ, WRITE, Summary
from compiler.pipeline import CompilerData
from compiler.schedule.compiled import UNREAD, WILD, Choice, VarIds, compile_summary
from compiler.schedule.instantiate import instantiate

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

GUARDS = """
contract Lab {
    storage owner_of: map<u256, address>;
    storage m: map<u256, u256>;
    storage paid: map<address, u256>;
    storage open: map<u256, bool>;
    storage total: u256;

    pub fn take(id: u256, v: u256) {
        m[id] = 1;                                   // before the require: no guard
        require(owner_of[id] == msg.sender, "not yours");
        paid[owner_of[id]] += v;                      // the fact makes the key exact
        m[id + 1] = v * 2;
    }
    pub fn branch(id: u256, stop: bool) {
        if stop { revert("stopped"); }
        m[id] = 3;                                    // guard: !stop
    }
    pub fn each(ids: array<u256, 4>) {
        for i in 0..len(ids) {
            require(m[ids[i]] > 0, "empty");          // depends on the loop: no guard
            require(total > 0, "none");
            m[ids[i]] = 0;                            // guard: total > 0 (this iteration's)
        }
        total = 9;                                    // no guard: the loop may not have run
    }
    pub fn via(id: u256) {
        check(id);
        m[id] = 4;                                    // guard: the callee's require
    }
    pub fn maybe(id: u256, go: bool) {
        let ok = go && checked(id);
        m[id] = 5;                                    // no guard: checked(id) may not have run
    }
    pub fn opened(id: u256) {
        require(open[id]);
        m[id] = 6;
    }
    pub fn claim_id(id: u256) { owner_of[id] = msg.sender; }     // owner_of is written: reads of it are dynamic
    fn check(id: u256) { require(owner_of[id] != address(0), "none"); }
    fn checked(id: u256) -> bool { require(total > 7, "small"); return true; }
}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, Summary]:
    path = tmp_path_factory.mktemp("guards") / "lab.lane"
    path.write_text(textwrap.dedent(GUARDS).lstrip(), encoding="utf-8")
    return CompilerData(str(path)).summaries


def shown(summary: Summary) -> set[tuple[str, str, str]]:
    """(mode, location, guard) of each access, as text."""
    return {(a.mode, a.location_text(), str(a.guard)) for a in summary.accesses}


def test_a_require_guards_what_follows_it_and_its_equality_is_a_fact(lab):
    assert shown(lab["Lab.take"]) == {
        ("write", "m[id]", "true"),
        ("read", "owner_of[id]", "true"),
        ("read", "owner_of[id]", "owner_of[id] == msg.sender"),  # the key is read again: a read still
        ("add", "paid[msg.sender]", "owner_of[id] == msg.sender"),
        ("write", "m[id + 1]", "owner_of[id] == msg.sender"),
    }
    values = {a.location_text(): a.value for a in lab["Lab.take"].accesses}
    assert str(values["m[id]"]) == "1" and str(values["m[id + 1]"]) == "v * 2"
    assert values["paid[msg.sender]"] is None  # an add stores no value that can be said


def test_a_branch_that_reverts_guards_what_follows_it(lab):
    assert shown(lab["Lab.branch"]) == {("write", "m[id]", "!stop")}


def test_a_require_in_a_loop_guards_its_iteration_only(lab):
    assert shown(lab["Lab.each"]) == {
        ("read", "m[ids[i]]", "true"),
        ("read", "total", "true"),
        ("write", "m[ids[i]]", "total > 0"),
        ("write", "total", "true"),
    }


def test_a_callees_requires_guard_the_caller_after_the_call(lab):
    assert ("write", "m[id]", "owner_of[id] != address(0x0)") in shown(lab["Lab.via"])
    # ... but not after a call that the && short-circuit may skip.
    assert ("write", "m[id]", "true") in shown(lab["Lab.maybe"])


def test_a_required_read_of_a_bool_is_true_after(lab):
    assert ("write", "m[id]", "open[id]") in shown(lab["Lab.opened"])


def test_the_reference_instantiation_drops_what_a_false_guard_guards(lab):
    state = {(7, "Lab", "owner_of", 1): 5, (7, "Lab", "owner_of", 2): 6}

    def read(address, contract, var, key):
        return state.get((address, contract, var, key), 0)

    def locations(sender: int, id_: int) -> set:
        return {(loc.var, loc.key, mode) for loc, mode in
                instantiate(lab["Lab.take"], sender=sender, target=7, args=[id_, 3], read=read)}

    assert locations(5, 1) == {("m", 1, WRITE), ("owner_of", 1, READ), ("paid", 5, ADD), ("m", 2, WRITE)}
    assert locations(5, 2) == {("m", 2, WRITE), ("owner_of", 2, READ)}  # not the owner: reverts


def test_the_compiled_instantiation_drops_it_for_every_value_the_read_may_have(lab):
    """owner_of[1] may be 5 or 6 (a Choice): the require passes for sender 5 or 6, for no other."""
    var_ids = VarIds()
    inst = compile_summary(lab["Lab.take"], var_ids).inst
    owner_of, paid = var_ids("Lab", "owner_of"), var_ids("Lab", "paid")

    def run(sender: int, value) -> set:
        out: list = []
        inst(sender, 7, (1, 3), lambda address, vid, key: value if vid == owner_of else 0, 2, 24, out)
        return {(vid, key, mode) for (address, vid, key), mode in out}

    assert (paid, 5, 2) in run(5, Choice((5, 6)))
    assert (paid, 6, 2) in run(6, Choice((5, 6)))
    assert not any(vid == paid for vid, _, _ in run(4, Choice((5, 6))))
    # A value that cannot be known leaves the guard undecided: the access is kept (at the sender).
    assert (paid, 4, 2) in run(4, UNREAD)


def test_a_choice_whose_condition_cannot_be_computed_is_each_branch_not_a_wildcard(tmp_path):
    """``who`` is ``ite(p - 100 < 5, msg.sender, address(0))``: for p below 100 the condition
    underflows (the call reverts there, or the summary merged a path it never takes), and the key is
    either branch: two locations, as the runtime's columns have it, not every key of ``m``."""
    path = tmp_path / "pick.lane"
    path.write_text(textwrap.dedent("""
        contract Pick {
            storage m: map<address, u256>;
            pub fn get(p: u256) -> u256 {
                let who = address(0);
                if ((p - 100) < 5) {
                    who = msg.sender;
                }
                return m[who];
            }
        }
    """))
    inst = compile_summary(CompilerData(str(path)).summaries["Pick.get"], VarIds()).inst

    def keys(p: int) -> set:
        return {key for (address, vid, key), mode in inst(9, 7, (p,), lambda *loc: 0, 2, 24, [])}

    assert keys(8) == {9, 0}
    assert keys(103) == {9}
    assert keys(200) == {0}
    assert WILD not in keys(8) | keys(103) | keys(200)


def test_writes_record_their_values_in_the_examples():
    nft = CompilerData(str(EXAMPLES / "nft.lane")).summaries
    stored = {(a.location_text(), str(a.value)) for a in nft["Nft.mint"].accesses if a.mode == WRITE}
    assert stored == {("owner_of[id]", "msg.sender"), ("creator_of[id]", "msg.sender"),
                      ("royalty_bps[id]", "royalty")}
    dao = CompilerData(str(EXAMPLES / "dao.lane")).summaries
    stored = {(a.location_text(), str(a.value)) for a in dao["Dao.propose"].accesses if a.mode == WRITE}
    assert ("next_id", "next_id + 1") in stored and ("proposer_of[next_id + 1]", "msg.sender") in stored


def test_escrows_claim_pays_an_exact_key(tmp_path):
    """require(seller_of[id] == msg.sender) before pay_seller: the payee is msg.sender."""
    escrow = CompilerData(str(EXAMPLES / "escrow.lane"))
    claim = function_json(escrow.summaries["Escrow.claim"])
    adds = [(a["var"], a["key"], a["kind"]) for a in claim["accesses"] if a["mode"] == "add"]
    assert adds == [("balances", ["msg.sender"], "immutable")]  # immutable: the token is init's
    assert S.kind_of(next(a for a in escrow.summaries["Escrow.claim"].accesses
                          if a.mode == ADD).keys[0]) == S.EXACT
