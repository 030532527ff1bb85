"""The ``lane`` command.

Data goes to stdout, messages to stderr; ``--json`` prints exactly one JSON
object on stdout.  Exit status: 0 success, 1 a user error (bad contract, bad
file, bad arguments), 2 a usage error, 3 an internal fault (a bug in Lane).
A user's mistake never shows a Python traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, List, Optional

import typer

from . import __version__
from .diagnostics import LaneError, render_all, summary_line
from .pipeline import CompilerData
from .semantics.loader import SourceCache

app = typer.Typer(
    name="lane",
    help="Lane: a smart-contract language whose compiler finds which transactions can run in parallel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_USER, EXIT_INTERNAL = 0, 1, 3


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def guarded(fn: Callable) -> Callable:
    """Turn user errors into messages and exit 1, internal faults into a bug report and exit 3."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except LaneError as err:
            _err(render_all(err.diagnostics))
            raise typer.Exit(EXIT_USER)
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130)
        except Exception as err:  # noqa: BLE001 - the last line of defence
            if os.environ.get("LANE_DEBUG"):
                traceback.print_exc()
            _err(f"internal error: {type(err).__name__}: {err}\n"
                 "This is a bug in Lane, not in your input. Please report it with the command you ran "
                 "(set LANE_DEBUG=1 to see the traceback).")
            raise typer.Exit(EXIT_INTERNAL)

    return wrapper


def _version(value: bool) -> None:
    if value:
        print(f"lane {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show Lane's version and exit."),
) -> None:
    """Lane: a smart-contract language whose compiler finds which transactions can run in parallel."""


@app.command()
@guarded
def check(
    files: List[Path] = typer.Argument(..., help="Lane source files to check (imports are followed)."),
    json_out: bool = typer.Option(False, "--json", help="Print the diagnostics as one JSON object."),
) -> None:
    """Check contracts: syntax, names, types, loop bounds, call graphs. Exit 1 on any error."""
    cache = SourceCache()
    sources: dict[str, str] = {}
    seen: set = set()
    diagnostics = []
    for file in files:
        data = CompilerData(file, cache)
        for diag in data.diagnostics():
            key = (diag.severity, diag.code, diag.message, diag.location)
            if key not in seen:
                seen.add(key)
                diagnostics.append(diag)
        sources.update(data.sources)
    n_errors = sum(1 for d in diagnostics if d.is_error)
    if json_out:
        _print_json({
            "files": [os.path.normpath(f) for f in files],
            "diagnostics": [d.to_json() for d in diagnostics],
            "errors": n_errors,
            "warnings": sum(1 for d in diagnostics if not d.is_error),
        })
    else:
        if diagnostics:
            _err(render_all(diagnostics, sources) + "\n")
        n = len(files)
        _err(f"checked {n} file{'s' if n != 1 else ''}: {summary_line(diagnostics)}")
    raise typer.Exit(EXIT_USER if n_errors else EXIT_OK)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
