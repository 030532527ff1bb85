"""The arguments of ``lane call``, written as a shell user writes them, read by the parameters' types.

- A value that looks like an option, such as ``-5``, is a value: it gets the parameter's
  own message (``must not be negative``), not ``no such option``.  Only ``--word``,
  which no value of Lane looks like, is taken for a mistyped option.
- An array parameter takes ``a,b,c`` or ``[a, b, c]`` (items may be quoted, so the JSON
  ``["weth","usdc"]`` works too), one element as ``a`` or ``[a]``, and none as ``[]``.
- Any other parameter takes the text itself, read by its type (SPEC §3).
"""

from __future__ import annotations

from collections.abc import Sequence

from .diagnostics import LaneError
from .semantics import types as T


def read_call_args(world, contract: str, fn: str, raws: Sequence[str]) -> list:
    """The values to call ``contract.fn`` with, by its parameters' types.  A contract or function
    that is not there leaves the texts as they are: the call reports it, with the names it has."""
    from .vm.values import quoted

    params = _params(world, contract, fn)
    out = []
    for k, raw in enumerate(raws):
        if raw.startswith("--") and len(raw) > 2:
            raise LaneError(f"no such option: {quoted(raw)} (see lane call --help)", code="usage")
        ty = params[k].type if params is not None and k < len(params) else None
        out.append(array_items(raw, params[k].name) if isinstance(ty, T.ArrayType) else raw)
    return out


def _params(world, contract: str, fn: str):
    from .vm.values import ValueError_

    inst = world.instances.get(contract)
    if inst is None:
        try:
            inst = world.by_address.get(world.parse_address(contract))
        except ValueError_:  # not an address either: the call says so
            return None
    function = inst.function(fn) if inst is not None else None
    return function.params if function is not None else None


def array_items(raw: str, name: str) -> list:
    """The items of array parameter ``name``'s argument (see the module's docstring); each is then
    read by the array's element type."""
    from .runtime.block import JsonError, decode_json
    from .runtime.text_scan import MAX_NESTING, json_too_deep
    from .vm.values import quoted

    text = raw.strip()
    if text.startswith("["):
        if json_too_deep(text) is not None:  # an array's items are never lists: refused before any reading
            raise LaneError(f"argument {quoted(name)} ({quoted(raw)}) is not a list: nested more than {MAX_NESTING} "
                            "levels deep", code="usage")
        if not text.endswith("]"):
            raise LaneError(f"argument {quoted(name)} ({quoted(raw)}) opens a list with '[' but does not close it",
                            code="usage")
        try:
            value = decode_json(text)
            if isinstance(value, list):
                return value
        except JsonError:
            pass  # not JSON: [weth, usdc], items without quotes
        text = text[1:-1].strip()
        if not text:
            return []
    return [_unquoted(item.strip()) for item in text.split(",")]


def _unquoted(item: str) -> str:
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
        return item[1:-1]
    return item
