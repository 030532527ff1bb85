"""The pytest plugin (compiler.testing.plugin, the ``pytest11`` entry point ``lane``): a ``chain``
fixture undone after each test, and failures that read as assertions.

One inner pytest session runs them all (a session costs seconds of plugin loading)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TOKEN = Path(__file__).resolve().parent.parent / "examples" / "token.lane"


@pytest.fixture
def outcome(pytester):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=f"""
        import pytest

        TOKEN = {str(TOKEN)!r}

        @pytest.fixture(scope="module")
        def shared(lane_chain):
            return lane_chain.deploy(TOKEN, 100, sender="alice", name="shared")

        def test_one(chain, shared):
            token = chain.deploy(TOKEN, 5)
            assert token.address.name == "token_1"
            shared.transfer("bob", 10, sender="alice")
            assert shared.balance_of("bob") == 10

        def test_two(chain, shared):
            assert list(chain.contracts) == ["shared"]
            assert shared.balance_of("bob") == 0
            assert chain.deploy(TOKEN, 5).address.name == "token_1"

        def test_owner(chain, shared):
            with chain.reverts("only owner"):
                shared.transfer("alice", 10, sender="bob")

        def test_transfer(chain, shared):
            shared.transfer("alice", 10, sender="bob")
    """)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider")


def test_the_plugin_isolates_tests_and_reports_reverts_as_assertions(outcome):
    # test_one and test_two pass: each starts from the chain as it was (test_two sees nothing of
    # test_one's deployment and transfer), with the module's deployment kept.
    outcome.assert_outcomes(passed=2, failed=2)
    outcome.stdout.fnmatch_lines(["FAILED test_inner.py::test_owner - *", "FAILED test_inner.py::test_transfer - *"])
    out = outcome.stdout.str()
    outcome.stdout.fnmatch_lines([
        "*def test_owner(chain, shared):",
        '>       with chain.reverts("only owner"):',
        ("E       AssertionError: expected a revert with reason 'only owner', but Token.transfer reverted with "
        "reason 'insufficient balance'"),
        "E         --> *token.lane:35:9",
        "E          |",
        'E       35 |         require(balances[msg.sender] >= amount, "insufficient balance");',
        "E          |         ^",
    ])
    outcome.stdout.fnmatch_lines([
        "*def test_transfer(chain, shared):",
        '>       shared.transfer("alice", 10, sender="bob")',
        "E       compiler.testing.errors.Reverted: Token.transfer reverted: insufficient balance",
        "E         --> *token.lane:35:9",
    ])
    assert "compiler/testing/" not in out  # the API's own frames are hidden from tracebacks
