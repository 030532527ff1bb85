"""Settings of the fuzzing tests (``tests/test_fuzz_*.py``): brief in CI, as long as asked on demand.

Every fuzzing test takes its settings from :func:`fuzz_settings`, with the number
of inputs it runs in CI.  A longer run of every entry point::

    LANE_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest -q tests -k fuzz

(docs/limits.md lists the entry points and what a run found.)
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz_settings(ci_examples: int) -> settings:
    """``ci_examples`` inputs, or ``LANE_FUZZ_EXAMPLES`` of them when that is set."""
    n = int(os.environ.get("LANE_FUZZ_EXAMPLES", ci_examples))
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
