"""``with chain.reverts("insufficient balance"):``: a test that expects a revert.

The block passes when a call in it raises :class:`~.errors.Reverted` with the
expected reason (any reason when none is given; a compiled regular
expression is searched for in it) and, if ``at`` is given, at that place in
the source.  Otherwise it fails with an ``AssertionError`` that says what was
expected and what happened: the other reason and where it came from, or the
call that did not revert and what it returned.  A ``CallError`` (a call that
cannot be made) is not a revert: it goes through.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .errors import CallError, Reverted, describe_site, split_site

if TYPE_CHECKING:  # pragma: no cover
    from .api import Chain


class ExpectRevert:
    """The context manager of ``chain.reverts(...)``; after the block, ``reason``, ``at`` and
    ``error`` (the :class:`Reverted`) say what happened."""

    def __init__(self, chain: "Chain | None", reason: str | re.Pattern | None = None, at: str | None = None) -> None:
        if reason is not None and not isinstance(reason, (str, re.Pattern)):
            raise CallError(f"reverts takes a reason (a string or a compiled pattern), found {reason!r}")
        if at is not None and not isinstance(at, str):
            raise CallError(f"reverts(at=...) takes a place such as \"token.lane:62\", found {at!r}")
        self.chain = chain
        self.expected = reason
        self.expected_at = at
        self.error: Reverted | None = None
        self._calls = 0

    @property
    def reason(self) -> str | None:
        return self.error.reason if self.error is not None else None

    @property
    def at(self) -> str | None:
        return self.error.at if self.error is not None else None

    def __enter__(self) -> "ExpectRevert":
        self._calls = self.chain._calls if self.chain is not None else 0
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        __tracebackhide__ = True
        if kind is None:
            raise AssertionError(f"expected a revert{self._wanted()}, but {self._what_ran()}")
        if not issubclass(kind, Reverted):
            return False
        if not (_reason_matches(self.expected, error.reason) and
                (self.expected_at is None or _site_matches(self.expected_at, error.at))):
            where = describe_site(error.at, error._sources) if error.at else "  (no source location)"
            raise AssertionError(f"expected a revert{self._wanted()}, but {error.function or 'the call'} "
                                 f"reverted with reason {error.reason!r}\n{where}") from None
        self.error = error
        return True

    def _wanted(self) -> str:
        out = ""
        if isinstance(self.expected, re.Pattern):
            out = f" with a reason matching {self.expected.pattern!r}"
        elif self.expected is not None:
            out = f" with reason {self.expected!r}"
        if self.expected_at is not None:
            out += f" at {self.expected_at}"
        return out

    def _what_ran(self) -> str:
        chain = self.chain
        if chain is None or chain._calls == self._calls:
            return "nothing reverted (no call ran)"
        if chain._blocks_run == chain._calls:
            return "a block ran: its reverted transactions are receipts, not errors (block.receipts says each)"
        if chain._last_call is None:  # (a restore inside the block took the last call back)
            return "nothing reverted (a restore took the calls back)"
        return f"{chain._describe_last()} without reverting"


def _reason_matches(expected: Any, reason: str) -> bool:
    if expected is None:
        return True
    if isinstance(expected, re.Pattern):
        return expected.search(reason) is not None
    return expected == reason


def _site_matches(expected: str, at: str | None) -> bool:
    """Whether the site ``at`` (``file:line:column``) is the one meant by ``expected``:
    ``file:line`` or ``file:line:column``, the file given in full or by its last parts
    (``token.lane:36`` matches ``examples/token.lane:36:9``)."""
    if at is None:
        return False
    site = split_site(at)
    if site is None:
        return expected == at
    file, line, column = site
    parts = expected.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        want_file, want_line, want_column = parts[0], int(parts[1]), int(parts[2])
    elif len(parts) >= 2 and parts[-1].isdigit():
        want_file, want_line, want_column = ":".join(parts[:-1]), int(parts[-1]), None
    else:
        return False
    same_file = file == want_file or file.replace("\\", "/").endswith("/" + want_file.replace("\\", "/"))
    return same_file and line == want_line and (want_column is None or column == want_column)
