"""The machine a transaction runs on: its context (storage, journal, events, cost budget),
its errors, its values and storage variables, and the transaction itself with its outcome.

Below the schedule and the executors (``compiler.runtime``), above the analysis: code generated
from a contract calls into it, and nothing here imports the layers above.
"""
