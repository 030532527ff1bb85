"""The bytes an editor sends, split into messages (the LSP base protocol), whatever those bytes are.

A message is a header section and a body: header lines ``Name: value``, each
ending in CRLF, an empty line, then exactly ``Content-Length`` bytes of JSON
in UTF-8.  :class:`Framer` is fed the stream in chunks of any size and gives
back what it found, in order: messages, bodies that are not JSON (the sender
gets a JSON-RPC ParseError), and bytes it had to skip.  It never raises and
never holds more than :data:`MAX_MESSAGE_BYTES` plus one header section.

Nothing in the stream can stop it.  A frame that goes wrong (a header line
that is not one, a ``Content-Length`` that is missing, not a number, negative
or above :data:`MAX_MESSAGE_BYTES`, a header section longer than
:data:`MAX_HEADER_BYTES`, a body that is not JSON) is given up, and the framer
looks for the next ``Content-Length`` from the byte after the frame's start:
a message whose header some garbage swallowed, or that a too-long
``Content-Length`` took into its body, is found again that way.  A frame whose
body stops arriving (its ``Content-Length`` promised more than was sent) can
only be told from a slow sender by time: the reader calls :meth:`Framer.stall`
when the stream has been quiet that long, and the frame is given up the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a body longer than this is refused before anything is allocated for it
MAX_HEADER_BYTES = 1024  # a header section (all its lines) longer than this is not one (real ones: under 100)

# Where a frame can start again after garbage: header names are case-insensitive.
_MARKER = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_MARKER_MAX = len(b"content-length:") + 16  # what of a marker cut by the chunking is kept (spaces included)
# A header's name is an HTTP token (RFC 7230); its value anything but a line break.
_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DIGITS = re.compile(rb"[0-9]{1,20}")
# A Content-Length line as it frames a message.  JSON never holds one: outside a string its letters
# are not JSON, inside one the raw line feed is not allowed.
_HEADER_IN_BODY = re.compile(rb"content-length[ \t]*:[ \t]*[0-9]+[ \t]*\r?\n", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Message:
    """A body that is JSON: ``value`` is what it decodes to (a request only if it looks like one)."""

    value: object


@dataclass(frozen=True, slots=True)
class Unparsable:
    """A frame whose body is not JSON in UTF-8: JSON-RPC answers it with a ParseError."""

    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """Bytes that did not frame a message: nobody can be answered, the reason is logged."""

    reason: str


Event = Message | Unparsable | Skipped


class NotJson(ValueError):
    pass


def decode_json(body: bytes) -> object:
    """The JSON value of a body in UTF-8 (JSON-RPC's only encoding: a UTF-16 body is refused)."""
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise NotJson(f"the body is not UTF-8 (byte {err.start})") from None
    except RecursionError:
        raise NotJson("the body nests JSON too deeply") from None
    except ValueError as err:  # json.JSONDecodeError, and integers too long to convert
        raise NotJson(f"the body is not JSON: {err}") from None


_HEADERS, _BODY, _RESYNC = "headers", "body", "resync"
_BLANK = re.compile(rb"\n\r?\n")
# Header bytes read again after a frame went wrong: some to start with, one per byte fed, capped.
_RESCAN_START, _RESCAN_PER_BYTE, _RESCAN_CAP = 64 * 1024, 1, 16 * 1024 * 1024


class Framer:
    """Splits a byte stream into :data:`Event` s; see the module's docstring for what it tolerates."""

    def __init__(self, decode: Callable[[bytes], object] = decode_json) -> None:
        self._decode = decode
        self._buf = bytearray()  # from the start of the current frame (or the bytes still to scan)
        self._state = _HEADERS
        self._scan = 0  # headers: where the next header line starts, relative to the buffer
        self._lines = 0  # headers: how many header lines the section has so far
        self._length: int | None = None  # headers: the Content-Length seen so far
        self._body_at = 0  # body: where the body starts
        self._skipping = False  # since the last message, a frame was given up
        # Header bytes it may read a second time: looking again inside a header section that went
        # wrong costs up to its size, so a stream of crafted sections gets only a few times its own
        # size of it, and then skips forward, past each bad line, like a simple reader would.
        self._rescan_allowance = _RESCAN_START

    @property
    def pending(self) -> bool:
        """Whether a frame has started and is not complete: only time tells a stalled one from a slow one."""
        return self._state == _BODY or (self._state == _HEADERS and len(self._buf) > 0)

    def feed(self, data: bytes) -> list[Event]:
        """The events that ``data``, after everything fed before, completes."""
        self._buf += data
        self._rescan_allowance = min(self._rescan_allowance + _RESCAN_PER_BYTE * len(data), _RESCAN_CAP)
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def stall(self) -> list[Event]:
        """The stream went quiet in the middle of a frame: give it up, and every frame that starts inside it."""
        events: list[Event] = []
        while self.pending:
            self._give_up(events, "the stream stopped in the middle of a message"
                          if self._state == _BODY else "the stream stopped in the middle of a header")
            while self._step(events):
                pass
        return events

    # ------------------------------------------------------------------ the states

    def _step(self, events: list[Event]) -> bool:
        """Advance one state; False when more bytes are needed."""
        if self._state == _RESYNC:
            return self._resync()
        if self._state == _HEADERS:
            return self._header_line(events)
        return self._body(events)

    def _resync(self) -> bool:
        found = _MARKER.search(self._buf)
        if found is None:
            # Keep what could be the start of a marker cut in two by the chunking.
            del self._buf[:max(len(self._buf) - _MARKER_MAX, 0)]
            return False
        del self._buf[:found.start()]
        self._start_headers()
        return True

    def _header_line(self, events: list[Event]) -> bool:
        end = self._buf.find(b"\n", self._scan, MAX_HEADER_BYTES + 1)
        if end < 0:
            if len(self._buf) <= MAX_HEADER_BYTES:
                return False
            # A frame's header section ends at the first blank line after its start, so none that
            # starts more than the limit before that blank line (or before the end of what is
            # here, when there is none yet) can be short enough.
            blank = _BLANK.search(self._buf)
            self._give_up(events, f"a header section longer than {MAX_HEADER_BYTES} bytes",
                          (blank.start() if blank is not None else len(self._buf)) - MAX_HEADER_BYTES)
            return True
        start, self._scan = self._scan, end + 1
        line = bytes(self._buf[start:end]).removesuffix(b"\r")
        if not line:
            if self._lines == 0:  # blank lines between messages: tolerated, dropped
                del self._buf[:self._scan]
                self._scan = 0
            elif self._length is None:
                # A Content-Length inside the value of one of these lines may be a message's own,
                # cut from the start of its line by garbage.
                found = _MARKER.search(self._buf, 1, start)
                self._give_up(events, "a header section without Content-Length",
                              found.start() if found is not None else self._scan)
            else:
                self._state, self._body_at = _BODY, self._scan
            return True
        self._lines += 1
        reason: str | None
        name, colon, value = line.partition(b":")
        if not colon or _NAME.fullmatch(name) is None:
            reason = f"not a header line: {_shown(line)}"
        elif name.lower() != b"content-length":
            return True  # Content-Type and any other header: nothing to check
        else:
            value = value.strip(b" \t")
            reason = self._content_length(value)
            if reason is None:
                return True
            if reason.startswith("two"):
                self._give_up(events, reason, 1)  # a frame may start between the two
                return True
        # Every frame that starts before this line has it in its header section too, and of those
        # that start inside it only one at its last marker does not have a marker in its value.
        self._give_up(events, reason, start + max(line.lower().rfind(b"content-length"), 0))
        return True

    def _content_length(self, value: bytes) -> str | None:
        """Take a Content-Length in; what is wrong with it, if anything."""
        if _DIGITS.fullmatch(value) is None:
            return f"Content-Length is not a number of bytes: {_shown(value)}"
        length = int(value)
        if length > MAX_MESSAGE_BYTES:
            # Refused on sight: nothing of that size is ever allocated or waited for.
            return f"Content-Length {length} is above the limit of {MAX_MESSAGE_BYTES} bytes"
        if self._length is not None and self._length != length:
            return "two different Content-Length headers"
        self._length = length
        return None

    def _body(self, events: list[Event]) -> bool:
        assert self._length is not None
        end = self._body_at + self._length
        if len(self._buf) < end:
            return False
        inside = _HEADER_IN_BODY.search(self._buf, self._body_at, end)
        try:
            if inside is not None:
                # Checked before decoding: frames nested in each other's bodies cost a search each.
                raise NotJson("the body holds the header of another message")
            value = self._decode(bytes(self._buf[self._body_at:end]))
        except NotJson as err:
            if not self._skipping:
                events.append(Unparsable(str(err)))
            # Most likely the Content-Length was wrong and the body holds (part of) the next message.
            # A frame that starts inside the body, before any header line in it, has a first line
            # that is not one (or one that ends after the body).
            found = _MARKER.search(self._buf, 1, self._body_at)
            self._give_up(events, None, found.start() if found is not None else
                          inside.start() if inside is not None else max(self._body_at, end - MAX_HEADER_BYTES))
            return True
        del self._buf[:end]
        self._start_headers()
        self._skipping = False
        events.append(Message(value))
        return True

    def _start_headers(self) -> None:
        self._state, self._scan, self._lines, self._length, self._body_at = _HEADERS, 0, 0, None, 0

    def _give_up(self, events: list[Event], reason: str | None, skip: int = 1) -> None:
        """Abandon the current frame and look for the next one from its ``skip``-th byte on.

        Only the first frame of a run of garbage is reported: random bytes can hold a marker
        every few bytes, and one line in the log says as much as a million.
        """
        if reason is not None and not self._skipping:
            events.append(Skipped(reason))
        self._skipping = True
        read = self._scan if self._state == _HEADERS else self._body_at if self._state == _BODY else 0
        if skip < read:
            again = read - skip  # header bytes that will be read a second time
            if again > self._rescan_allowance:
                skip = read
            else:
                self._rescan_allowance -= again
        del self._buf[:max(skip, 1)]
        self._state = _RESYNC


def _shown(raw: bytes, limit: int = 40) -> str:
    text = repr(raw[:limit])[2:-1]
    return f"'{text}...'" if len(raw) > limit else f"'{text}'"


def frame(body: bytes) -> bytes:
    """``body`` as a message of the base protocol (what a well-behaved editor sends)."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body
