"""Lane: a smart-contract language whose compiler finds what can run in parallel."""

__version__ = "0.1.0"
