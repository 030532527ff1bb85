"""Lane: a smart-contract language whose compiler finds what can run in parallel."""

__version__ = "0.1.0"

# Testing contracts from Python (docs/testing.md): ``from compiler import Chain, Reverted``.
# Loaded when first asked for, so that the ``lane`` command never imports them.
_TESTING = ("Chain", "Reverted", "CallError", "Contract", "Event", "Receipt", "Address", "Snapshot")

__all__ = ["__version__", *_TESTING]


def __getattr__(name: str):
    if name in _TESTING:
        from . import testing

        return getattr(testing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
