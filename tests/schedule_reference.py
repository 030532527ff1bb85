"""The reference a DAG of ``lane schedule`` is checked against (tests/test_schedule.py and
tests/test_schedule_props.py): each pair of a block's transactions, their instantiated accesses
compared one by one, in quadratic time."""

from __future__ import annotations

from compiler.schedule import dag
from compiler.schedule.compiled import WILD


def overlap(a: tuple, b: tuple) -> bool:
    """Whether two instantiated locations (address or None: any; variable; key or WILD) may be one."""
    (addr_a, vid_a, key_a), (addr_b, vid_b, key_b) = a, b
    return (vid_a == vid_b and (addr_a is None or addr_b is None or addr_a == addr_b)
            and (key_a is WILD or key_b is WILD or key_a == key_b))


def modes_conflict(m: int, n: int) -> bool:
    return not (m == n == dag.R or m == n == dag.A)


def conflict_at(xs: list, ys: list) -> list[tuple]:
    """The locations (of ys) at which an access of xs and one of ys conflict."""
    return [lb for la, ma in xs for lb, mb in ys if overlap(la, lb) and modes_conflict(ma, mb)]


def _same_variable(xs: list, ys: list) -> bool:
    return any(overlap((la[0], la[1], WILD), (lb[0], lb[1], WILD)) for la, _ in xs for lb, _ in ys)


def check_against_reference(s: dag.Schedule, stand_ins: bool = False) -> None:
    """Edges join conflicting transactions, forward, once each, labelled with a location where they
    conflict; every conflicting pair is ordered by a path (the DAG may leave out edges implied by
    others).  With ``stand_ins``, an edge may also join two transactions of one variable, labelled
    with a location the second touches: one that follows more than ``dag.DIRECT_EDGES`` readers or
    adders of a location stands for them."""
    assert s.accesses is not None
    n = len(s.txs)
    assert len(s.sources) == len(s.targets) == len(s.labels)
    for i, j, loc in zip(s.sources, s.targets, s.labels):
        assert 0 <= i < j < n, (i, j)
        xs, ys = s.accesses[i], s.accesses[j]
        if conflict_at(xs, ys):
            assert any(overlap(loc, la) and modes_conflict(ma, mb) for la, ma in xs for lb, mb in ys
                       if lb == loc and overlap(la, lb)), \
                f"edge {i}->{j} labelled with {s.compiled.describe(loc)}, where they do not conflict"
        else:
            assert stand_ins and _same_variable(xs, ys), f"edge {i}->{j} without a conflict"
            assert any(lb == loc for lb, _ in ys), \
                f"edge {i}->{j} labelled with {s.compiled.describe(loc)}, which #{j} does not touch"
    reach = [0] * n  # bit i of reach[j]: i is ordered before j
    for j, ps in enumerate(s.predecessors()):
        assert len(ps) == len(set(ps)), f"#{j} follows a transaction twice"
        for i in ps:
            assert 0 <= i < j
            reach[j] |= reach[i] | (1 << i)
    for j in range(n):
        for i in range(j):
            if not reach[j] >> i & 1:
                assert not conflict_at(s.accesses[i], s.accesses[j]), f"#{i} and #{j} conflict but are not ordered"
