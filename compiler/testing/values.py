"""Python values in and out of contract calls.

In: arguments are read by the parameters' types as a block's are (SPEC §3:
:func:`compiler.vm.values.parse_value`), with what a Python caller has
besides: an :class:`Address`, a contract handle (its address), a tuple for an
array.  A function's arguments are checked by a converter generated once for
it (:func:`arguments_reader`): the common values (an ``int`` in range, an
address already an ``int``, a ``bool``) pass a type test inline, anything
else goes through ``parse_value``, whose message names the parameter.

Out: a ``u256`` is an ``int``, a ``bool`` a ``bool``, an address an
:class:`Address` (an ``int`` that knows its name), a contract reference the
contract's handle when one is deployed there.
"""

from __future__ import annotations

from typing import Any, Callable

from ..vm.values import ADDRESS_MAX, U256_MAX, ValueError_, parse_value
from ..semantics import types as T
from .errors import CallError


class Address(int):
    """An address: an ``int`` that knows the account or contract name it stands for, if any.

    It compares and hashes as its number, so ``token.get_owner() == alice`` holds whichever
    one was made from a name; ``str()`` gives ``0x`` and 40 hex digits, ``repr()`` the name too."""

    def __new__(cls, value: int, name: str | None = None) -> "Address":
        if not 0 <= value <= ADDRESS_MAX:
            raise ValueError(f"an address is 0 .. 2^160-1, not {value}")
        self = super().__new__(cls, value)
        self.name = name
        # The plain int, for the state (which is marshalled and hashed: no int subclass there).
        # Kept, not made at each call: comparing and converting an int subclass is slow.
        self.plain = int(value)
        return self

    def __repr__(self) -> str:
        hex_ = f"0x{int(self):040x}"
        return f"{self.name} ({hex_})" if self.name else hex_

    def __str__(self) -> str:
        return f"0x{int(self):040x}"

    def __reduce__(self):
        return (Address, (int(self), self.name))


class Handle:
    """What a deployed contract's handle is to an argument: its ``address`` and its ``contract``
    type (:class:`compiler.testing.contract.Contract`)."""

    __slots__ = ()
    address: Address
    contract: str


def _plain(ty: T.Type, raw: Any, what: str) -> Any:
    """A Python argument as a block's JSON would hold it: a handle as its address where an address
    is expected, a tuple as a list (the rest is read by ``parse_value`` as it is)."""
    if isinstance(raw, Handle) and (ty is T.ADDRESS or isinstance(ty, T.ContractType)):
        if isinstance(ty, T.ContractType) and raw.contract != ty.name:
            raise ValueError_(f"{what} must be a {ty.name}, found a {raw.contract} ({raw.address.name})")
        return raw.address.plain
    if isinstance(raw, (list, tuple)) and isinstance(ty, T.ArrayType):
        return [_plain(ty.elem, x, f"{what}[{i}]") for i, x in enumerate(raw)]
    if type(raw) is Address:
        if ty is T.U256:
            raise ValueError_(f"{what} must be an integer, found an address ({raw!r})")
        return raw.plain
    return raw


def parse_argument(ty: T.Type, raw: Any, resolve_address: Callable[[str], int], what: str) -> Any:
    """``raw`` read as a value of ``ty`` (see the module's docstring); ValueError_ if it cannot be."""
    if isinstance(raw, float):
        # parse_value would say "a decimal number": in Python the caller wrote a float.
        raise ValueError_(f"{what} must be {_expected(ty)}, found the float {raw!r}")
    return parse_value(ty, _plain(ty, raw, what), resolve_address, what, int_addresses=True)


def _expected(ty: T.Type) -> str:
    if ty is T.U256:
        return "an integer"
    if ty is T.BOOL:
        return "true or false"
    if ty is T.ADDRESS or isinstance(ty, T.ContractType):
        return "an address (a name or 0x hex)"
    return f"a list (its type is {ty})"


def arguments_reader(qualname: str, params: list, resolve_address: Callable[[str], int],
                     what: str = "argument") -> Callable[[tuple], tuple]:
    """A function checking and converting a call's positional arguments: the tuple of values
    the compiled function takes, or a :class:`CallError` naming the function and the parameter.

    It is generated for the parameters' types, as the block decoder's readers are
    (:func:`compiler.runtime.decode.call_reader`): one type test per common argument."""
    n = len(params)
    signature = f"{qualname}({', '.join(f'{p.name}: {p.type}' for p in params)})"

    def wrong_count(args: tuple) -> None:
        raise CallError(f"{signature} takes {n} {what}{'s' if n != 1 else ''}, found {len(args)}")

    def slow(k: int, raw: Any) -> Any:
        p = params[k]
        try:
            return parse_argument(p.type, raw, resolve_address, f"{what} '{p.name}'")
        except ValueError_ as err:
            raise CallError(f"{signature}: {err}") from None

    env: dict[str, Any] = {"MAX": U256_MAX, "AMAX": ADDRESS_MAX, "Address": Address, "slow": slow,
                           "wrong_count": wrong_count}
    body = ["def read(a):", f"    if len(a) != {n}:", "        wrong_count(a)"]
    for k, p in enumerate(params):
        x = f"x{k}"
        body.append(f"    {x} = a[{k}]")
        if p.type is T.U256:
            body.append(f"    if type({x}) is not int or {x} < 0 or {x} > MAX:")
        elif p.type is T.BOOL:
            body.append(f"    if {x} is not True and {x} is not False:")
        elif p.type is T.ADDRESS or isinstance(p.type, T.ContractType):
            # An Address becomes its plain int (see Address.plain).
            body.append(f"    if type({x}) is Address:")
            body.append(f"        {x} = {x}.plain")
            body.append(f"    elif type({x}) is not int or {x} < 0 or {x} > AMAX:")
            body.append(f"        {x} = slow({k}, {x})")
            continue
        else:
            body.append("    if True:")
        body.append(f"        {x} = slow({k}, {x})")
    body.append("    return (" + "".join(f"x{k}, " for k in range(n)) + ")")
    exec(compile("\n".join(body) + "\n", f"<lane-arguments:{qualname}>", "exec"), env)
    return env["read"]


def sender_reader(resolve_address: Callable[[str], int]) -> Callable[[Any], int]:
    """Reads a ``sender=``: an address, a handle, a name or 0x hex."""
    def read(raw: Any) -> int:
        if type(raw) is Address:
            return raw.plain
        if type(raw) is int and 0 <= raw <= ADDRESS_MAX:
            return raw
        try:
            return parse_argument(T.ADDRESS, raw, resolve_address, "sender")
        except ValueError_ as err:
            raise CallError(str(err)) from None

    return read


def return_reader(ty: T.Type | None, address: Callable[[int], Any]) -> Callable[[Any], Any] | None:
    """How a function's raw return value reaches Python (None: as it is).  ``address(value,
    contract)`` makes an address value (a contract type's name, or None for a plain address)."""
    if ty is None or ty is T.VOID or ty is T.U256 or ty is T.BOOL:
        return None
    if ty is T.ADDRESS:
        return lambda v: address(v, None)
    if isinstance(ty, T.ContractType):
        name = ty.name
        return lambda v: address(v, name)
    if isinstance(ty, T.ArrayType):
        inner = return_reader(ty.elem, address)
        return (lambda v: tuple(map(inner, v))) if inner is not None else tuple
    return None
