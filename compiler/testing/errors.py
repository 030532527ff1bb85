"""What a test sees when a call fails: a revert of the contract, or a call that cannot be made.

:class:`Reverted` is the contract's answer (SPEC §1.6), with the reason and the place in the
source (``file:line:column`` of the ``require``, ``revert``, arithmetic or call that failed).
:class:`CallError` is the caller's mistake (an unknown function, arguments of the wrong number
or type, a ``sender`` given to a view): a :class:`~compiler.diagnostics.LaneError`, and a
``TypeError`` (an unknown function also an ``AttributeError``) as Python users expect.
"""

from __future__ import annotations

from typing import Mapping

from ..diagnostics import LaneError


class CallError(LaneError, TypeError):
    """A call that cannot be made as written; the message names the function and the parameter."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="call")


class NoSuchFunction(CallError, AttributeError):
    """A contract handle has no such pub function (``hasattr`` is False for it)."""


class Reverted(Exception):
    """A transaction or a view reverted.

    ``reason`` is the receipt's reason, ``at`` where it happened (``examples/token.lane:36:9``,
    the file as it was named; None if unknown), ``function`` the called function
    (``Token.transfer``) and ``receipt`` the transaction's receipt (None for a view).  Its text
    shows the source line, as a compiler shows an error."""

    def __init__(self, reason: str, at: str | None = None, function: str = "",
                 sources: Mapping[str, str] | None = None, receipt=None) -> None:
        super().__init__(reason, at, function)
        self.reason = reason
        self.at = at
        self.function = function
        self.receipt = receipt
        self._sources = sources

    def __str__(self) -> str:
        who = f"{self.function} reverted" if self.function else "reverted"
        text = f"{who}: {self.reason}"
        if self.at:
            text += f"\n{describe_site(self.at, self._sources)}"
        return text


def split_site(at: str) -> tuple[str, int, int] | None:
    """``(file, line, column)`` of a site ``file:line:column`` (the file may hold colons)."""
    file, _, rest = at.rpartition(":")
    file, _, line = file.rpartition(":")
    if not (file and line.isdigit() and rest.isdigit()):
        return None
    return file, int(line), int(rest)


def describe_site(at: str, sources: Mapping[str, str] | None) -> str:
    """``  --> file:line:column`` and, when the source is known, its line with a caret under the
    column (as ``lane check`` shows a diagnostic)."""
    out = f"  --> {at}"
    site = split_site(at)
    text = sources.get(site[0]) if site and sources else None
    if site is None or text is None:
        return out
    lines = text.split("\n")
    _, line, column = site
    if not 1 <= line <= len(lines):
        return out
    src = lines[line - 1].rstrip("\r")
    gutter = str(line)
    pad = " " * len(gutter)
    caret = "".join("\t" if c == "\t" else " " for c in src[:column - 1]) + "^"
    return f"{out}\n{pad} |\n{gutter} | {src}\n{pad} | {caret}"


class CompileError(LaneError):
    """A contract given to ``chain.deploy`` does not compile: its text is the diagnostics as
    ``lane check`` prints them, each with its source line."""

    def __str__(self) -> str:
        from ..diagnostics import render_all

        return render_all(self.diagnostics, self.sources)
