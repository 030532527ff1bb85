"""Work on a column a group at a time: C code per group, no Python per item.

A block's columns (its calls, its receipts, its events) mix a few kinds of rows
(a function, an event of one contract), and what is done to a row depends on
its kind.  :func:`by_group` sorts the rows by kind (a stable sort of small
numbers, numpy), hands each kind's rows to one call, and puts the results back
in the rows' order, all by C code but for one call per kind.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable

import numpy as np

from ..schedule.vectorized import pick


def by_group(keys: list, items: list, make: Callable[[Any], Callable[[list], list]]) -> list:
    """``make(key)(group)`` over the items of each distinct key (each call returns one result per
    item of its group), the results in the items' order."""
    distinct = list(dict.fromkeys(keys))
    if len(distinct) <= 1:
        return make(distinct[0])(items) if distinct else []
    number = {k: i for i, k in enumerate(distinct)}
    codes = np.fromiter(map(number.__getitem__, keys), np.int64, len(keys))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(distinct) + 1)).tolist()
    order_list = order.tolist()
    done: list = []
    for key, a, b in zip(distinct, bounds, bounds[1:]):
        done += make(key)(pick(items, order_list[a:b]))
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.arange(len(keys))
    return list(itemgetter(*inverse.tolist())(done))
