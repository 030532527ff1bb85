"""One timer per document: a check runs once typing pauses, not on every keystroke."""

from __future__ import annotations

import asyncio
from typing import Callable


class Debouncer:
    """Calls ``action(key)`` ``delay`` seconds after the last :meth:`schedule` of that key.

    Each key has its own timer, so typing in one document never delays another.
    Runs on the server's event loop; ``action`` must not raise.
    """

    def __init__(self, action: Callable[[str], None], delay: float) -> None:
        self._action = action
        self.delay = delay
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def schedule(self, key: str, delay: float | None = None) -> None:
        self.cancel(key)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self.delay if delay is None else delay, self._fire, key)

    def cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def clear(self) -> None:
        for key in list(self._timers):
            self.cancel(key)

    def pending(self, key: str) -> bool:
        return key in self._timers

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self._action(key)
