"""The pytest plugin of Lane (registered as ``lane`` through the ``pytest11`` entry point).

Fixtures:

- ``chain``: a :class:`~compiler.testing.api.Chain` whose changes are undone after the test
  (a snapshot taken before it, restored after it): deployments, transactions, blocks, time.
- ``lane_chain``: the same chain, for the whole session: what a module- or session-scoped
  fixture deploys into (``chain`` then undoes each test's changes on top of it).

Failures read as assertions: ``chain.reverts`` raises ``AssertionError`` with what was
expected and what happened, and the API's frames are hidden from tracebacks.
"""

from __future__ import annotations

import pytest

# Before the modules load, so that an ``assert`` in them is rewritten as a test's is.
pytest.register_assert_rewrite("compiler.testing.api", "compiler.testing.reverts")


@pytest.fixture(scope="session")
def lane_chain():
    """One chain for the session (its parallel workers, if any, stopped at the end)."""
    from .api import Chain

    with Chain() as chain:
        yield chain


@pytest.fixture
def chain(lane_chain):
    """The session's chain, with whatever the test does to it undone afterwards."""
    snap = lane_chain.snapshot()
    try:
        yield lane_chain
    finally:
        lane_chain.restore(snap)
