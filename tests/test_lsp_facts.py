"""What a check in a worker sends the server (compiler.lsp.facts), run here in process."""

from __future__ import annotations

import pickle
from pathlib import Path

from compiler.lsp.facts import CheckRequest, check_document, failed, too_slow
from compiler.lsp.hover import NEEDS_CHECK
from lsp_helpers import uri

TOKEN = """\
contract Token {
    storage balances: map<address, u256>;
    pub fn transfer(to: address, amount: u256) {
        balances[msg.sender] -= amount;
        balances[to] += amount;
    }
}
"""


def check(path: Path, text: str, limit: float = 2) -> tuple[list, object]:
    request = CheckRequest(uri(path), str(path), {path.resolve(): text}, "utf-16", limit)
    sent = []
    return sent, check_document(request, sent.append)


def test_a_program_without_errors_sends_its_facts_without_the_analysis_first(tmp_path):
    path = tmp_path / "token.lane"
    (front,), facts = check(path, TOKEN)
    # `balances` in `balances[to]` (line 5, column 9): its hover and its declaration.
    name = facts.at(5, 10)
    meaning = facts.meaning(name.meaning)
    assert (name.loc.line, name.loc.column, name.loc.end_column) == (5, 9, 17)
    assert meaning.hover == ("```lane\nstorage balances: map<address, u256>\n```\n\nin contract `Token`\n\n"
                             "- added to by: `Token.transfer`")  # both updates are commutative adds
    assert meaning.declaration.uri == uri(path)
    assert (meaning.declaration.range.start.line, meaning.declaration.range.start.character) == (1, 12)
    # The first step has the same names and declarations, and hovers that say the analysis is missing.
    ahead = front.meaning(front.at(5, 10).meaning)
    assert ahead.declaration == meaning.declaration
    assert ahead.hover.endswith("_The access analysis of this text did not finish within the time limit (2 s); "
                                "`lane analyze` runs it without one._")
    assert [s.name for s in facts.outline] == ["Token"]
    assert pickle.loads(pickle.dumps(facts)).meaning(name.meaning) == meaning  # as it travels


def test_a_check_out_of_time_keeps_what_it_sent_ahead_and_says_why(tmp_path):
    path = tmp_path / "token.lane"
    (front,), _ = check(path, TOKEN)
    request = CheckRequest(uri(path), str(path), {path.resolve(): TOKEN}, "utf-16", 2)
    facts = too_slow(request, path.resolve(), front)
    (diag,) = facts.diagnostics
    assert diag.code == "timeout" and diag.message.startswith(
        "checking this file took longer than the time limit (2 s): it was stopped")
    assert facts.meaning(facts.at(5, 10).meaning).declaration is not None  # go to definition still works
    assert facts.outline == front.outline
    # Nothing sent ahead (it did not even parse in time): the diagnostic alone.
    nothing = too_slow(request, path.resolve(), None)
    assert nothing.at(5, 10) is None and nothing.outline is None and len(nothing.diagnostics) == 1


def test_a_program_with_errors_is_checked_in_one_step(tmp_path):
    path = tmp_path / "bad.lane"
    sent, facts = check(path, TOKEN.replace("-= amount", "-= true"))
    assert sent == []
    assert [d.code for d in facts.diagnostics] == ["type-mismatch"]
    assert NEEDS_CHECK in facts.meaning(facts.at(5, 10).meaning).hover


def test_a_failed_check_is_one_internal_diagnostic(tmp_path):
    path = tmp_path / "x.lane"
    request = CheckRequest(uri(path), str(path), {path.resolve(): "contract X {}\n"}, "utf-16", 2)
    (diag,) = failed(request, path.resolve(), "ZeroDivisionError: a bug").diagnostics
    assert diag.code == "internal"
    assert diag.message == ("internal error while checking: ZeroDivisionError: a bug\n"
                            "This is a bug in Lane, not in your contract; the server's log has the details.")
