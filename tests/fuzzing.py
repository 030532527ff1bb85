"""Settings of the fuzzing and property tests: brief in CI, as long as asked on demand.

Every fuzzing test (``tests/test_fuzz_*.py``) takes its settings from
:func:`fuzz_settings`, with the number of inputs it runs in CI.  A longer run of
every entry point::

    LANE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests -k fuzz

Every property test (hypothesis) states its number of examples in CI through
:func:`examples`, which ``LANE_PROPERTY_SCALE`` multiplies: a long run of them
all, ten times as many examples::

    LANE_PROPERTY_SCALE=10 .venv/bin/python -m pytest -q tests

(docs/limits.md lists the entry points and what a run found.)
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def examples(ci_examples: int) -> int:
    """A property test's number of examples: ``ci_examples`` times ``LANE_PROPERTY_SCALE`` (1 unless set)."""
    return max(1, round(ci_examples * float(os.environ.get("LANE_PROPERTY_SCALE", "1"))))


def fuzz_settings(ci_examples: int) -> settings:
    """``ci_examples`` inputs, or ``LANE_FUZZ_EXAMPLES`` of them when that is set."""
    n = int(os.environ.get("LANE_FUZZ_EXAMPLES", ci_examples))
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
