"""Wakes IMAP sessions when what they watch changes, whichever process changed it.

Every change to a folder's messages moves its HIGHESTMODSEQ (and a delivery its UIDNEXT)
in the same transaction (`store.selected`); creating, deleting or renaming a folder changes
the account's folder list, and (UN)SUBSCRIBE its subscriptions. One loop per server reads,
each `policy.propagation_poll_ms`, the marks of every watched folder (IDLE, NOTIFY's
selected mailbox) in one query and the marks of every watched account (NOTIFY, RFC 5465)
in two, and calls the callbacks whose marks moved; each session then asks the store what
changed for itself. A callback is called once: the session watches again when it wants to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from mailgate.periodic import Periodic
from mailgate.service import Service
from mailgate.store.mailboxes import AccountMarks, account_marks
from mailgate.store.selected import FolderMark, folder_marks

Wake = Callable[[], None]
Mark = TypeVar("Mark", FolderMark, AccountMarks)


class FolderWatcher:
    """Folder id -> the sessions idling on it, and account id -> the sessions watching the
    account with NOTIFY, each with the marks it last saw."""

    def __init__(self, svc: Service) -> None:
        self._svc = svc
        self._watching: dict[int, dict[Wake, FolderMark]] = {}
        self._accounts: dict[int, dict[Wake, AccountMarks]] = {}
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
        _forget(self._watching, folder_id, wake)

    def watch_account(self, account_id: int, seen: AccountMarks, wake: Wake) -> None:
        """Call `wake` once the account's folders or subscriptions differ from `seen`."""
        self._accounts.setdefault(account_id, {})[wake] = seen

    def unwatch_account(self, account_id: int, wake: Wake) -> None:
        _forget(self._accounts, account_id, wake)

    async def tick(self) -> None:
        if not self._watching and not self._accounts:
            return
        marks, accounts = await asyncio.to_thread(self._read, list(self._watching),
                                                  list(self._accounts))
        _wake_moved(self._watching, marks)
        _wake_moved(self._accounts, accounts)

    def _read(self, folder_ids: list[int], account_ids: list[int]
              ) -> tuple[dict[int, FolderMark], dict[int, AccountMarks]]:
        with self._svc.reader.connect() as conn:
            return folder_marks(conn, folder_ids), account_marks(conn, account_ids)


def _forget(watching: dict[int, dict[Wake, Mark]], key: int, wake: Wake) -> None:
    watchers = watching.get(key)
    if watchers is not None:
        watchers.pop(wake, None)
        if not watchers:
            del watching[key]


def _wake_moved(watching: dict[int, dict[Wake, Mark]], current: dict[int, Mark]) -> None:
    """Call (and forget) every watcher whose key's marks differ from what it saw; a key
    missing from `current` (a deleted folder) differs from anything."""
    for key, watchers in list(watching.items()):
        mark = current.get(key)
        for wake, seen in list(watchers.items()):
            if mark != seen:
                watchers.pop(wake, None)
                wake()
        if not watchers:
            watching.pop(key, None)
