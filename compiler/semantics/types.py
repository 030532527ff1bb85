"""Lane's types (SPEC §1.2)."""

from __future__ import annotations

from dataclasses import dataclass


class Type:
    """Base of all types; instances are immutable and compare by value."""

    is_scalar = False  # u256, bool, address, a contract: what locals, returns and events hold


@dataclass(frozen=True)
class _Prim(Type):
    name: str
    is_scalar = True

    def __str__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        # Unpickled as the module's own object (the program cache): code compares them with `is`.
        return self.name.upper()


U256 = _Prim("u256")
BOOL = _Prim("bool")
ADDRESS = _Prim("address")


@dataclass(frozen=True)
class ContractType(Type):
    name: str
    is_scalar = True

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class TupleType(Type):
    items: tuple[Type, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.items)) + ")"


@dataclass(frozen=True)
class MapType(Type):
    key: Type
    value: Type

    @property
    def key_arity(self) -> int:
        return len(self.key.items) if isinstance(self.key, TupleType) else 1

    @property
    def key_types(self) -> tuple[Type, ...]:
        return self.key.items if isinstance(self.key, TupleType) else (self.key,)

    def __str__(self) -> str:
        return f"map<{self.key}, {self.value}>"


@dataclass(frozen=True)
class ArrayType(Type):
    elem: Type
    size: int

    def __str__(self) -> str:
        return f"array<{self.elem}, {self.size}>"


@dataclass(frozen=True)
class _Void(Type):
    def __str__(self) -> str:
        return "nothing"

    def __reduce__(self) -> str:
        return "VOID"


VOID = _Void()

PRIMITIVES: dict[str, Type] = {"u256": U256, "bool": BOOL, "address": ADDRESS}


def flattened(t: Type) -> tuple[int, Type]:
    """A storage type as its location sees it: how many keys (0 for a scalar), and the value type.

    ``map<address, map<address, u256>>`` and ``map<(address, address), u256>`` are both (2, u256).
    """
    keys = 0
    while isinstance(t, MapType):
        keys += t.key_arity
        t = t.value
    return keys, t


def is_key_type(t: Type) -> bool:
    """What may key a map: u256, bool, address, a contract type."""
    return t.is_scalar


def zero_value(t: Type):
    """The value of a never-written location (SPEC §1.6): 0, false, the zero address."""
    if t is BOOL:
        return False
    return 0
