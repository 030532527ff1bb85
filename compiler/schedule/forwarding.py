"""What a key read from storage may be when a transaction of the block runs: value forwarding.

A dynamic key (``owner_of[id]``, ``seller_of[id]``, ``next_id + 1``) is read
from storage.  Before the block runs, its location holds one value; when an
earlier transaction of the block may write that location, the transaction may
see that value or any value an earlier writer stores there (a writer may
revert, so the value before the block stays possible).  The compiled
summaries say what each write stores, in terms of the writer's own arguments,
sender and reads, and report it while they are instantiated (``stored``); so
the scheduler keeps, per location, the values earlier transactions of the
block may have written there, and a later read of the location answers the
finite set of them (a :class:`Choice`).  The key becomes as many exact
locations.  Only when some writer's value cannot be said (an add, a value the
analysis does not follow, a wildcard write over the variable) or the set
grows past :data:`MAX_VALUES` does the read stay unresolved and the key a
wildcard (SPEC §3, *Instantiation*).

Values of a variable that no summary reads to make a key (a pool's reserves)
only decide conditions and guards; each value is one more to try with the
others a condition reads (a swap's price reads both reserves), so they are
followed while they are at most :data:`MAX_OTHER_VALUES`.

:func:`compiler.schedule.dag.build` and :func:`compiler.schedule.components.partition`
share this state so that they instantiate every transaction alike.
"""

from __future__ import annotations

from typing import Any

from .compiled import UNKNOWN, UNREAD, WILD, Choice, value_before

# Values remembered per location of a variable read to make keys (of another variable): past it,
# the location's value is unknown to later readers.
MAX_VALUES = 64
MAX_OTHER_VALUES = 4


def may_hold(before: Any, stored) -> Any:
    """What a location read by a transaction may hold: its value ``before`` the block, or any of the
    values earlier writers of the block may have ``stored`` there (a writer may revert): that value
    alone when they can only have stored it, else a :class:`Choice` of them, in that order."""
    if len(stored) == 1 and before in stored:
        return before
    return Choice(dict.fromkeys((before, *stored)))


class Forwarding:
    """The state a block's instantiation reads: the pre-block storage and the values earlier
    transactions of the block may have stored.  ``read`` is the ``read`` of a compiled summary;
    ``record`` takes what one transaction's instantiation stored, after it.  (Both are closures
    over the state: they run for every dynamic key of the block.)"""

    def __init__(self, storage: dict[int, list[dict]], slots: dict[int, tuple[int, Any]],
                 key_vids: frozenset[int] | None = None) -> None:
        """``key_vids``: the variables read to make keys (None: every variable is taken as one)."""
        # location -> {value: None} (ordered, so that instantiation is deterministic), or UNKNOWN
        values: dict[tuple, Any] = {}
        wild: set[tuple] = set()  # (address or None, var id) written at every key
        self.values, self.wild = values, wild
        self.choices = 0  # reads answered with several values

        def read(address: int, vid: int, key: Any) -> Any:
            """The value, a Choice of values, or UNREAD when it cannot be known (see compiled.py)."""
            if wild and ((address, vid) in wild or (None, vid) in wild):
                return UNREAD
            got = values.get((address, vid, key))
            if got is UNKNOWN:
                return UNREAD
            before = value_before(storage, slots, address, vid, key)
            if got is None:
                return before
            value = may_hold(before, got)
            if type(value) is Choice:
                self.choices += 1
            return value

        def record(stored: list) -> None:
            """``stored``: (location, value or UNKNOWN) for each write or add one transaction may make."""
            for loc, value in stored:
                if value is UNKNOWN:  # (an add, most often)
                    if loc[2] is WILD:
                        wild.add((loc[0], loc[1]))
                    else:
                        values[loc] = UNKNOWN
                    continue
                got = values.get(loc)
                if got is UNKNOWN:
                    continue
                if got is None:
                    values[loc] = {value: None}
                else:
                    got[value] = None
                    if len(got) > (MAX_VALUES if key_vids is None or loc[1] in key_vids else MAX_OTHER_VALUES):
                        values[loc] = UNKNOWN

        self.read, self.record = read, record
