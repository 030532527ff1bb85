"""Imported once by the fork server of the check workers (:mod:`.workers`), for its side effect.

Every worker is forked from that server, so each starts with the modules of a
check imported and the grammar loaded: a new worker (the first one, or one
that replaces a killed one) checks at once instead of spending a second on
imports first.
"""

from ..syntax.grammar import lark_parser
from . import facts  # noqa: F401 - the modules a check runs

lark_parser()
