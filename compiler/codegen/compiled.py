"""Generated Python, compiled once and ready to call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..vm.errors import Revert
from ..semantics.checker import CheckedProgram
from .python import StorageLayout, function_name, generate, mangle, storage_layout


@dataclass
class CompiledProgram:
    source: str
    layouts: dict[str, StorageLayout]
    namespace: dict = field(repr=False)

    def function(self, contract: str, name: str) -> Callable:
        return self.namespace[mangle(contract, name)]


def compile_program(program: CheckedProgram, name: str, trace: bool = False, source: str | None = None,
                    log: bool = False) -> CompiledProgram:
    """The program's Python, generated (or ``source``, generated before: the program cache) and compiled."""
    if source is None:
        source = generate(program, trace=trace, log=log)
    namespace: dict = {"Revert": Revert, "__name__": f"lane:{name}"}
    exec(compile(source, f"<lane:{name}>", "exec"), namespace)
    layouts = {c: storage_layout(info) for c, info in program.contracts.items()}
    return CompiledProgram(source, layouts, namespace)


__all__ = ["CompiledProgram", "compile_program", "function_name", "mangle"]
