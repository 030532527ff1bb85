"""JSON-RPC 2.0 on top of the framing: what goes on to pygls, and what is answered with an error instead.

pygls hands a message to its handlers once it has turned it into lsprotocol
types, and drops with a log line any message it cannot turn: a request with a
missing position never got an answer.  So every message passes here first,
and is answered as JSON-RPC 2.0 says when it cannot be served:

- a body that is not JSON: ParseError (-32700), id null;
- JSON that is not a request, notification or response: InvalidRequest
  (-32600), with the message's id when it has one that can be echoed, else null;
- a request whose params do not fit its method: InvalidParams (-32602),
  saying which field is wrong (the handlers also answer InvalidParams for a
  document that is not open);
- a request for a method the server does not serve: MethodNotFound (-32601);
- any request after ``shutdown``: InvalidRequest, as LSP says;
- ``exit``: the server ends, with status 0 after ``shutdown`` and 1 without.

A notification never gets an answer (JSON-RPC forbids it): one that cannot be
served, and bytes the framing had to skip, are logged to the client.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Callable

from cattrs import transform_error
from cattrs.errors import ClassValidationError
from lsprotocol import types

from .framing import Event, Message, Skipped, Unparsable, frame

if TYPE_CHECKING:  # pragma: no cover
    from .server import LaneServer

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603


class _NoTracebackForBadParams(logging.Filter):
    """pygls logs the traceback of every message it cannot turn into types.  Here that is the client's
    mistake, answered with InvalidParams and logged in a line: no traceback in the editor's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable to deserialize message")


logging.getLogger("pygls.protocol.json_rpc").addFilter(_NoTracebackForBadParams())

_MISSING = object()


class Dispatcher:
    """Takes the framer's events, in order, on the server's event loop.

    ``write`` sends bytes to the client; ``end(status)`` ends the server.
    """

    def __init__(self, server: LaneServer, write: Callable[[bytes], None], end: Callable[[int], None]) -> None:
        self.server = server
        self._write = write
        self._end = end
        self.shut_down = False  # a shutdown request was served: exit ends with status 0

    @property
    def exit_status(self) -> int:
        return 0 if self.shut_down else 1

    def __call__(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Message):
                self.message(event.value)
            elif isinstance(event, Unparsable):
                self.error(None, PARSE_ERROR, f"Parse error: {event.reason}")
            elif isinstance(event, Skipped):
                self.log(f"skipped bytes that do not frame a message: {event.reason}")

    def message(self, value: object) -> None:
        if not isinstance(value, dict):
            batch = "; LSP has no batches" if isinstance(value, list) else ""
            self.error(None, INVALID_REQUEST, f"Invalid Request: a message is a JSON object{batch}")
            return
        msg_id = value.get("id", _MISSING)
        # LSP ids are integers or strings; anything else cannot be echoed back as one.
        echo = msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None
        method = value.get("method", _MISSING)
        if method is _MISSING:
            if msg_id is not _MISSING and ("result" in value or "error" in value):
                self._pass_on(value, None)  # the client answering a request of ours
            else:
                self.error(echo, INVALID_REQUEST, "Invalid Request: no method, and not a response")
            return
        request = msg_id is not _MISSING
        if "params" in value and value["params"] is None:
            # (`"params": null`, as some clients send `shutdown` and `exit`: as if left out)
            value = {k: v for k, v in value.items() if k != "params"}
        problem = _envelope_problem(value, method, msg_id, echo)
        if problem is not None:
            code, text = problem
            if request:
                self.error(echo, code, text)  # null when the id itself is what is wrong
            else:
                self.log(f"ignored a notification: {text}")
            return
        if method == types.EXIT:
            self._end(self.exit_status)
            return
        if self.shut_down:
            if request:
                self.error(echo, INVALID_REQUEST, f"Invalid Request: {method} after shutdown")
            return
        features = self.server.protocol.fm
        if method not in features.builtin_features and method not in features.features:
            if request:  # an unknown notification is ignored, as LSP says of optional ones
                self.error(echo, METHOD_NOT_FOUND, f"Method Not Found: {method}")
            return
        if self._pass_on(value, echo if request else None, method) and request and method == types.SHUTDOWN:
            self.shut_down = True

    def _pass_on(self, value: dict, request_id: object, method: str | None = None) -> bool:
        """Turn ``value`` into lsprotocol types and let pygls serve it; whether it could."""
        protocol = self.server.protocol
        try:
            message = protocol.structure_message(value)
        except Exception as err:  # noqa: BLE001 - pygls raises InvalidParams or InternalError, cattrs anything
            why = _why(err)
            if request_id is not None:
                self.error(request_id, INVALID_PARAMS, f"Invalid params for {method}: {why}")
            elif method is not None:
                self.log(f"ignored {method}: invalid params: {why}")
            return False
        try:
            protocol.handle_message(message)
        except Exception as err:  # noqa: BLE001 - a bug in pygls or Lane: the request still gets an answer
            self.server.report_fault(f"serving {method or 'a response'}")
            if request_id is not None:
                self.error(request_id, INTERNAL_ERROR, f"Internal error: {type(err).__name__}: {err}")
            return False
        return True

    def error(self, msg_id: object, code: int, text: str) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": text}})
        self._write(frame(body.encode("utf-8")))

    def log(self, text: str) -> None:
        try:
            self.server.window_log_message(types.LogMessageParams(type=types.MessageType.Warning,
                                                                  message=f"lane lsp: {text}"))
        except Exception:  # noqa: BLE001 - nobody to tell
            pass


def _envelope_problem(value: dict, method: object, msg_id: object, echo: object) -> tuple[int, str] | None:
    """What makes ``value`` (a request or notification) unfit to serve: a JSON-RPC error code and text."""
    if value.get("jsonrpc") != "2.0":
        return INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"'
    if not isinstance(method, str):
        return INVALID_REQUEST, "Invalid Request: the method must be a string"
    if msg_id is not _MISSING and echo is None:
        return INVALID_REQUEST, "Invalid Request: the id must be an integer or a string"
    params = value.get("params", _MISSING)
    if params is not _MISSING and not isinstance(params, (dict, list)):
        return INVALID_PARAMS, f"Invalid params for {method}: params must be an object or an array"
    return None


def _why(err: Exception) -> str:
    """What cattrs found wrong, with LSP's field names: ``required field missing @ $.params.position``."""
    cause = err.__cause__ if isinstance(err.__cause__, Exception) else err
    if isinstance(cause, ClassValidationError):
        lines = transform_error(cause)
        return "; ".join(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), line) for line in lines)
    return f"{type(cause).__name__}: {cause}"
