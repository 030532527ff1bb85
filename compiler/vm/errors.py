"""The one exception that Lane code raises at run time."""


class Revert(Exception):
    """A transaction reverts (SPEC §1.6); ``reason`` is the receipt's reason, ``at`` where in the
    source it happened: ``file:line:column`` of the ``require``, ``revert``, arithmetic, index, call
    or cost charge that failed, the file as the program was named (None when not known).

    Generated code passes ``at`` as a constant, and only on the failing path, so knowing where costs
    a transaction that does not revert nothing."""

    __slots__ = ("reason", "at")

    def __init__(self, reason: str, at: str | None = None) -> None:
        self.reason = reason
        self.at = at
