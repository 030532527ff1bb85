"""What every ``lane`` command shares: exit statuses, JSON output, errors as messages.

- :func:`guarded` turns a user's mistake (a :class:`LaneError`) into its message on stderr
  and exit status 1, and anything else into a bug report and exit status 3: never a
  traceback.  With ``--json`` the error is also one JSON object on stdout,
  ``{"error": {...}}`` (beside the blocks ``lane run`` wrote before it: :class:`JsonBlocks`),
  so a program reading stdout always gets JSON.
- :class:`LaneCommand` and :class:`LaneGroup` are the command classes of the ``lane``
  app: ``--help`` shows a flag without a value (Typer's rich help would show
  ``--json <bool>``, as if it took one), and a usage error (exit status 1, found
  while parsing, before the command runs) is JSON on stdout too when ``--json`` was given.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable

import typer
from typer.core import TyperCommand, TyperGroup

from .diagnostics import LaneError, render_all

try:  # Typer carries its own copy of Click in recent versions, and uses Click's before
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - the Typer of the environment decides
    from click.exceptions import UsageError

# A usage error (a flag or an argument the command line does not take) is a user error too: the
# specification's exit statuses are 0 and 1 (and 3 here, for a fault of Lane's own).
EXIT_OK, EXIT_USER, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 1, 3


def err(message: str) -> None:
    # stdout first: a message comes after the data printed before it, as in a terminal, even when
    # stdout is a pipe or a file (where it is not flushed line by line).
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    print(message, file=sys.stderr, flush=True)


def json_text(obj) -> str:
    # ASCII (json's default): a lone surrogate from a block's JSON is written as its escape.
    # msgspec writes the same text (indent 2) about fifteen times faster (a block's receipts): used
    # when what it wrote is ASCII, that is when json would have escaped nothing; integers past 64
    # bits, non-ASCII text or a lone surrogate go through json.
    import msgspec

    try:
        text = msgspec.json.format(msgspec.json.encode(obj), indent=2)
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        text = b""
    if text and text.isascii():
        return text.decode("ascii") + "\n"
    return json.dumps(obj, indent=2) + "\n"


def print_json(obj) -> None:
    sys.stdout.write(json_text(obj))


def error_json(message: str, code: str, exit_status: int, diagnostics: list | None = None) -> dict:
    """What ``--json`` prints on stdout for an error: the message (as stderr shows it, without
    the source lines), a code, the exit status, and the diagnostics as ``lane check --json`` gives them."""
    return {"error": {"message": message, "code": code, "exit_status": exit_status,
                      "diagnostics": diagnostics or []}}


class JsonBlocks:
    """``--json`` of several blocks, ``{"blocks": [...]}``, written a block at a time as each is done:
    the text ``print_json`` would write of the whole, but no block's result waits in memory for the
    last (a 100,000-transfer block's held 300 MB).  An error while it is open closes it with the
    error's members beside the blocks written (:func:`_print_error_json`): stdout holds one JSON
    object, whatever happens."""

    current: "JsonBlocks | None" = None  # the one being written, if any

    def __init__(self) -> None:
        self.count = 0

    def add(self, obj) -> None:
        sys.stdout.write(('{\n  "blocks": [\n' if not self.count else ",\n") + "    " + _nested(obj, "    "))
        self.count += 1
        JsonBlocks.current = self

    def close(self, members: dict | None = None) -> None:
        """End the object (after the blocks, ``members``: an error's); nothing if none was written."""
        if JsonBlocks.current is not self:
            return
        JsonBlocks.current = None
        rest = "".join(f',\n  {json.dumps(key)}: ' + _nested(value, "  ") for key, value in (members or {}).items())
        sys.stdout.write("\n  ]" + rest + "\n}\n")


def _nested(obj, indent: str) -> str:
    """``json_text(obj)`` as a member of an object ``indent`` deep: its lines after the first indented."""
    return json_text(obj).rstrip("\n").replace("\n", "\n" + indent)


def _close_blocks() -> None:
    """A ``JsonBlocks`` left open by a command that ended otherwise, closed (no error to add)."""
    if JsonBlocks.current is not None:
        try:
            JsonBlocks.current.close()
        except (OSError, ValueError):
            JsonBlocks.current = None


def _print_error_json(obj: dict) -> None:
    try:
        if JsonBlocks.current is not None:  # (blocks written already: the error joins their object)
            JsonBlocks.current.close(obj)
        else:
            print_json(obj)
    except (OSError, ValueError):  # stdout already gone: the message on stderr is enough
        JsonBlocks.current = None


def guarded(fn: Callable) -> Callable:
    """Turn user errors into messages and exit 1, internal faults into a bug report and exit 3
    (with ``--json``, each also as ``{"error": ...}`` on stdout)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("json_out"))
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, UsageError):
            _close_blocks()
            raise  # ends as the command line means (a usage error: Typer's message, exit status 1)
        except LaneError as error:
            err(render_all(error.diagnostics, error.sources))
            if as_json:
                codes = [d.code for d in error.diagnostics]
                _print_error_json(error_json(str(error), codes[0] if codes else "error", EXIT_USER,
                                             [d.to_json() for d in error.diagnostics]))
            raise typer.Exit(EXIT_USER)
        except BrokenPipeError:
            # The reader of our output went away (`lane run ... | head`): not an error of ours.
            JsonBlocks.current = None
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            raise typer.Exit(EXIT_OK)
        except KeyboardInterrupt:
            err("interrupted")
            if as_json:
                _print_error_json(error_json("interrupted", "interrupted", 130))
            raise typer.Exit(130)
        except Exception as error:  # noqa: BLE001 - the last line of defence
            damaged = _state_file_fault(error)
            if damaged is not None:  # (a state file's, where no command's own check caught it)
                err(f"error: {damaged}")
                if as_json:
                    _print_error_json(error_json(damaged, "state", EXIT_USER))
                raise typer.Exit(EXIT_USER)
            if os.environ.get("LANE_DEBUG"):
                traceback.print_exc()
            message = f"internal error: {type(error).__name__}: {error}"
            err(f"{message}\nThis is a bug in Lane, not in your input. Please report it with the command you "
                "ran (set LANE_DEBUG=1 to see the traceback).")
            if as_json:
                _print_error_json(error_json(message, "internal", EXIT_INTERNAL))
            raise typer.Exit(EXIT_INTERNAL)

    return wrapper


def _state_file_fault(error: Exception) -> str | None:
    """What SQLite said of a state file (Lane keeps nothing else in SQLite) that no command's own
    check caught, in words: the file in use by another process, or changed outside Lane (a table
    dropped, its pages damaged); None for anything else, a bug of Lane's."""
    if type(error).__module__ != "sqlite3":
        return None
    from .runtime.statefile import in_use

    busy = in_use(error, "the state file")
    if busy is not None:
        return busy
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or str(error).startswith(("no such table",
                                                                                       "no such column")):
        return f"the state file is damaged ({error}): it was changed outside Lane; use a new --state file"
    return None


class _LaneParams:
    """The behaviour :class:`LaneCommand` and :class:`LaneGroup` share."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            # A flag takes no value: no type beside it in --help (an empty metavar shows none).
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params

    def make_context(self, info_name, args, parent=None, **extra):
        wants_json = "--json" in args
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as error:
            error.exit_code = EXIT_USAGE
            if wants_json:  # (its diagnostic as a LaneError of code "usage" gives it: one shape for both)
                message = error.format_message()
                _print_error_json(error_json(message, "usage", error.exit_code,
                                             [d.to_json() for d in LaneError(message, code="usage").diagnostics]))
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as error:  # (a subcommand not known, found once the group runs)
            error.exit_code = EXIT_USAGE
            raise


class LaneCommand(_LaneParams, TyperCommand):
    pass


class LaneGroup(_LaneParams, TyperGroup):
    pass


def use_lane_commands(app: typer.Typer) -> None:
    """Make every command of ``app`` (and of its sub-apps) a :class:`LaneCommand`; call it once
    every command is registered."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:  # Typer's default, in one version or another
            info.cls = LaneCommand
    for group in app.registered_groups:
        use_lane_commands(group.typer_instance)
