"""The one exception that Lane code raises at run time."""


class Revert(Exception):
    """A transaction reverts (SPEC §1.6); ``reason`` is the receipt's reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason
