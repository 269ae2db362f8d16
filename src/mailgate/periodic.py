"""A server's background loops (evidence flushing, event following, purging), one shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("mailgate.server")


class Periodic:
    """Runs `work` every `interval` seconds on the event loop until stopped.

    A failing run is logged and the next one tries again: a background loop must never take
    the server down, nor die quietly.
    """

    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[object]],
                 immediately: bool = False) -> None:
        self.name = name
        self._immediately = immediately
        self.interval = interval
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        first = True
        while True:
            if not (first and self._immediately):
                await asyncio.sleep(self.interval)
            first = False
            try:
                await self._work()
            except Exception:
                log.exception("%s failed; trying again in %ss", self.name, self.interval)
