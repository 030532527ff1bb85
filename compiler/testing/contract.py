"""Handles on deployed contracts: ``token.transfer(bob, 10, sender=alice)``.

A :class:`Contract` has one :class:`Function` per ``pub`` function, as an
attribute made at deployment (so a call looks nothing up by name).  Calling a
function runs it on its chain (:class:`compiler.testing.api.Chain`): a
non-view function as a transaction, a view without one.  ``.call(...)`` runs
any function without keeping anything; ``.tx(...)`` makes a :class:`Call` for
a block (``chain.run_block``, ``chain.schedule``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..semantics.symbols import Function as FunctionInfo
from ..runtime.world import Instance
from .errors import CallError, NoSuchFunction
from .values import Address, Handle, arguments_reader, return_reader

if TYPE_CHECKING:  # pragma: no cover
    from .api import Chain
    from .events import Receipt


class Function:
    """A pub function of a deployed contract."""

    __slots__ = ("chain", "instance", "info", "fn", "to", "read_args", "read_return", "is_view", "qualname")

    def __init__(self, chain: "Chain", instance: Instance, info: FunctionInfo) -> None:
        self.chain = chain
        self.instance = instance
        self.info = info
        self.fn = instance.program.function(instance.contract.name, info.name)
        self.to = instance.address
        self.read_args = arguments_reader(info.qualname, info.params, chain.world.parse_address)
        self.read_return = return_reader(info.return_type, chain._address_value)
        self.is_view = info.is_view
        self.qualname = info.qualname

    def __call__(self, *args: Any, sender: Any = None) -> Any:
        """A transaction from ``sender`` (a view: a call without one); returns the function's value.
        Inside ``with chain.block()`` the call is collected instead, and a :class:`Call` returned."""
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        chain = self.chain
        self._check_deployed()
        values = self.read_args(args)
        if chain._collecting is not None:
            return chain._collecting.add(Call(self, values, chain._sender(sender)))
        if self.is_view:
            if sender is not None:
                raise CallError(f"{self.qualname} is a view: it runs without a transaction, so it takes no "
                                f"sender (to run it as one sender would, use "
                                f"{self.info.name}.call(..., sender=...))")
            return chain._view(self, values, 0)
        return chain._transact(self, values, chain.default_sender if sender is None else chain._read_sender(sender))

    def call(self, *args: Any, sender: Any = None) -> Any:
        """Run the function as ``sender`` would (a transaction's in the next block, a view's in the
        current one) and keep nothing: its value, or :class:`Reverted`."""
        __tracebackhide__ = True
        chain = self.chain
        self._check_deployed()
        values = self.read_args(args)
        return chain._view(self, values, chain._sender(sender) if sender is not None or not self.is_view else 0,
                           next_block=not self.is_view)

    def tx(self, *args: Any, sender: Any = None) -> "Call":
        """A transaction calling this function, not run yet: for ``chain.run_block`` and ``chain.schedule``."""
        self._check_deployed()
        return Call(self, self.read_args(args), self.chain._sender(sender))

    def _check_deployed(self) -> None:
        __tracebackhide__ = True
        if self.chain.world.by_address.get(self.to) is not self.instance:
            raise CallError(f"{self.instance.name} ({self.instance.contract.name}) is not deployed any more: "
                            f"a restore went back to before its deployment")

    def __repr__(self) -> str:
        return f"<{self.instance.name}.{self.info.signature()}>"


class Contract(Handle):
    """A deployed contract: its pub functions as methods, its ``address`` (an :class:`Address`
    named as the instance is) and its ``contract`` type's name.  It equals its address (and any
    ``int`` of the same value), so a contract's return value can be compared with it."""

    __slots__ = ("__dict__", "address", "contract", "_lane_chain", "_lane_instance")

    def __init__(self, chain: "Chain", instance: Instance) -> None:
        self.address = Address(instance.address, instance.name)
        self.contract = instance.contract.name
        self._lane_chain = chain
        self._lane_instance = instance
        for info in instance.contract.pub_functions:
            self.__dict__[info.name] = Function(chain, instance, info)

    def __getattr__(self, name: str) -> Any:
        # Only for a name that is not a pub function: say what it is, and what there is.
        if name.startswith("__"):
            raise AttributeError(name)
        info = self._lane_instance.contract.functions.get(name)
        names = ", ".join(f.name for f in self._lane_instance.contract.pub_functions) or "none"
        if info is not None:
            raise NoSuchFunction(f"{info.qualname} is not pub: only pub functions can be called "
                                 f"(pub functions of {self.contract}: {names})")
        raise NoSuchFunction(f"{self.contract} ({self.address.name}) has no function {name!r} "
                             f"(pub functions: {names})")

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, "address", "contract"})

    def __int__(self) -> int:
        return int(self.address)

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Contract):
            return self.address == other.address
        if isinstance(other, int) and not isinstance(other, bool):
            return int(self.address) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(int(self.address))

    def __repr__(self) -> str:
        return f"<{self.contract} {self.address.name} at {self.address}>"


class Call:
    """One transaction of a block, not run yet: a function, its checked arguments and its sender.
    Once its block has run, ``receipt`` says what it did (``value``, ``ok`` are shortcuts)."""

    __slots__ = ("function", "args", "sender", "receipt")

    def __init__(self, function: Function, args: tuple, sender: int) -> None:
        self.function = function
        self.args = args
        self.sender = sender
        self.receipt: "Receipt | None" = None

    @property
    def value(self) -> Any:
        if self.receipt is None:
            raise RuntimeError(f"{self!r} has not run yet: its block runs when the 'with chain.block()' ends")
        return self.receipt.value

    @property
    def ok(self) -> bool:
        return self.receipt is not None and self.receipt.ok

    def __repr__(self) -> str:
        args = ", ".join(map(repr, self.args))
        sender = self.function.chain._address_value(self.sender, None)
        return f"<call {self.function.instance.name}.{self.function.info.name}({args}) from {sender!r}>"
