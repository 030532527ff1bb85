"""The pub functions of a world, numbered: what the parallel executor's parent and its workers call
each by (a transaction's function id), with each one's static cost and the variables its summary
says it touches.  Light to import: a block the executor runs inline is judged by these alone."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..analysis.summary import READ


class FunctionTable:
    """Every pub function of a world, numbered the same in the parent and its workers."""

    def __init__(self, world) -> None:
        self.ids: dict = {}
        self.functions: list = []
        self.logged: list = []      # the code a lane runs (every access logged)
        self.plain: list = []       # the code the parent runs inline
        for inst in world.instances.values():
            for fn in inst.contract.functions.values():
                if fn.is_pub and fn not in self.ids:
                    self.ids[fn] = len(self.functions)
                    self.functions.append(fn)
                    self.plain.append(inst.program.function(fn.contract.name, fn.name))
                    self.logged.append(None)   # compiled on first use, in the process that runs it
        self._world = world

    @cached_property
    def costs(self) -> list[int]:
        """Each function's static cost: its summary's (the program cache keeps them), walked again
        only for one without.  A transaction never costs more than the world's limit lets it (a loop
        over 2^256 has an astronomical static cost, and it reverts at the limit)."""
        from ..analysis.cost import function_cost

        memo: dict = {}
        return [min(s.cost if (s := self.summary(fid)) is not None else function_cost(fn, memo), self._world.cost_limit)
                for fid, fn in enumerate(self.functions)]

    def variables(self, fid: int) -> tuple[set, set] | None:
        """The variables ((contract, name)) function ``fid`` touches, and those it writes or adds to,
        by its summary; None when it has none."""
        summary = self.summary(fid)
        if summary is None:
            return None
        accesses = summary.accesses
        return {(a.contract, a.var) for a in accesses}, {(a.contract, a.var) for a in accesses if a.mode != READ}

    @cached_property
    def summaries(self) -> dict:
        """Each function's summary by (contract, function name), as the program cache keeps them
        (what the compiled summaries are made from: none is made here)."""
        out: dict = {}
        for inst in self._world.instances.values():
            for s in inst.data.summaries.values():
                out.setdefault((s.function.contract.name, s.function.name), s)
        return out

    def summary(self, fid: int):
        """Function ``fid``'s summary, or None."""
        fn = self.functions[fid]
        return self.summaries.get((fn.contract.name, fn.name))

    def scalars(self, fid: int) -> tuple[set, set] | None:
        """The variables without keys ((contract, name): a rate, a bound, a switch) function ``fid``
        reads, and those it writes or adds to, by its summary; None when it has none."""
        summary = self.summary(fid)
        if summary is None:
            return None
        accesses = [a for a in summary.accesses if not a.keys]
        return {(a.contract, a.var) for a in accesses if a.mode == READ}, \
            {(a.contract, a.var) for a in accesses if a.mode != READ}

    def written(self, fnids: np.ndarray) -> frozenset | None:
        """The variables ((contract, name)) that the functions of a block (``fnids``: -1 invalid) write
        or add to by their summaries; None when a function has no summary."""
        written: set[tuple[str, str]] = set()
        for fid in np.flatnonzero(np.bincount(fnids[fnids >= 0], minlength=1)).tolist():
            variables = self.variables(fid)
            if variables is None:
                return None
            written |= variables[1]
        return frozenset(written)

    def quiet(self, fnids: np.ndarray) -> frozenset:
        """The variables ((address, index)) that no function of a block writes or adds to by its
        summary (:meth:`written`): the lanes need not log their reads.  A read is logged for the
        comparison with what others write meanwhile; a write those summaries do not predict is its
        writer's to find (a lane's, and the parent's part's, are checked against their rows; the
        parent's window run while the lanes run the next one against this set, ``parallel``), and
        the block runs on sequentially from the first such transaction.  None of them (every read
        logged) when a function has no summary."""
        written = self.written(fnids)
        if written is None:
            return frozenset()
        return frozenset(place for place, variable in self.places.items() if variable not in written)

    @cached_property
    def places(self) -> dict[tuple[int, int], tuple[str, str]]:
        """Each variable of the world's instances, (address, index) -> (contract, variable name)."""
        return {(address, index): (inst.contract.name, var) for address, inst in self._world.by_address.items()
                for var, index in inst.program.layouts[inst.contract.name].index.items()}

    def logged_code(self, fid: int):
        code = self.logged[fid]
        if code is None:
            fn = self.functions[fid]
            inst = next(i for i in self._world.instances.values() if i.contract.name == fn.contract.name)
            code = self.logged[fid] = inst.data.logged.function(fn.contract.name, fn.name)
        return code


__all__ = ["FunctionTable"]
