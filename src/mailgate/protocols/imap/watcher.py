"""Wakes IDLE sessions when their folder changes, whichever process changed it.

Every change to a folder's messages moves its HIGHESTMODSEQ (and a delivery its UIDNEXT)
in the same transaction (`store.selected`). One loop per server reads the marks of every
watched folder in one query each `policy.propagation_poll_ms` and calls the callbacks of
the folders whose mark moved; each session then asks the store what changed for itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailgate.periodic import Periodic
from mailgate.service import Service
from mailgate.store.selected import FolderMark, folder_marks

Wake = Callable[[], None]


class FolderWatcher:
    """Folder id -> the sessions idling on it, each with the mark it last saw."""

    def __init__(self, svc: Service) -> None:
        self._svc = svc
        self._watching: dict[int, dict[Wake, FolderMark]] = {}
        interval = int(svc.settings.get("policy", "propagation_poll_ms")) / 1000
        self._loop = Periodic("watching IMAP folders", interval, self.tick)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def watch(self, folder_id: int, seen: FolderMark, wake: Wake) -> None:
        """Call `wake` once the folder's mark differs from `seen` (the caller's view)."""
        self._watching.setdefault(folder_id, {})[wake] = seen

    def unwatch(self, folder_id: int, wake: Wake) -> None:
        watchers = self._watching.get(folder_id)
        if watchers is not None:
            watchers.pop(wake, None)
            if not watchers:
                del self._watching[folder_id]

    async def tick(self) -> None:
        if not self._watching:
            return
        marks = await asyncio.to_thread(self._read, list(self._watching))
        for folder_id, watchers in list(self._watching.items()):
            mark = marks.get(folder_id)  # None: the folder was deleted
            for wake, seen in list(watchers.items()):
                if mark != seen:
                    watchers.pop(wake, None)
                    wake()
            if not watchers:
                self._watching.pop(folder_id, None)

    def _read(self, wanted: list[int]) -> dict[int, FolderMark]:
        with self._svc.reader.connect() as conn:
            return folder_marks(conn, wanted)
