"""Group commit: the deliveries that arrive together share one transaction and one sync.

A durable commit costs one WAL fsync on SQLite (synchronous=FULL) and one WAL flush on
PostgreSQL, and SQLite lets one writer in at a time: committing each arriving message on
its own serialises the server on the disk. Here each delivery hands its rows to `run` as a
function of the connection; one writer task takes every delivery waiting (up to `most`),
runs them in one transaction, each in its own SAVEPOINT, and commits once. Every waiter
gets its own result, or its own exception, only after that commit returned: nobody is
answered before their rows are durable. A delivery whose function raises is rolled back to
its savepoint and fails alone; a commit that fails fails the deliveries of that batch (none
of them was stored), which the doors answer with a temporary error. The full-text index
takes the batch's new messages once, after the savepoints (`fulltext.catch_up`).

Callers write and sync their message files (and directories) before calling `run`: the
files must be durable before the rows that make them visible. They do so in their own
threads, side by side (the kernel joins their syncs); the writer's one thread does only
what must be serial, the rows and the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from mailgate.store import fulltext

T = TypeVar("T")
Work = Callable[[Connection], Any]


@dataclass(frozen=True)
class _Waiting:
    work: Work
    future: asyncio.Future[Any]


class GroupCommit:
    """One writer for the deliveries of one event loop (the server makes one for every
    SMTP door)."""

    def __init__(self, engine: Engine, most: int = 32) -> None:
        self.engine = engine
        self.most = most  # deliveries in one transaction at most: the write lock is shared
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        # its own thread: a commit never queues behind the file writes and look-ups in
        # the event loop's default pool
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="group-commit")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(conn)` inside a transaction shared with the deliveries waiting now;
        returns its result (or raises its exception) once that transaction committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(work, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="group-commit")
        return await future

    async def _write(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch = [w for w in self._waiting[:self.most] if not w.future.done()]
                del self._waiting[:self.most]
                if not batch:
                    continue
                outcomes = await asyncio.get_running_loop().run_in_executor(
                    self._thread, commit_together, self.engine, [w.work for w in batch])
                for waiting, outcome in zip(batch, outcomes, strict=True):
                    if waiting.future.done():  # its connection went away meanwhile
                        continue
                    if isinstance(outcome, _Failed):
                        waiting.future.set_exception(outcome.error)
                    else:
                        waiting.future.set_result(outcome)
                batch = []
        finally:  # cancelled (the server stops): nobody waits for an answer that never comes
            for waiting in [*batch, *self._waiting]:
                waiting.future.cancel()
            self._waiting.clear()

    def close(self) -> None:
        """Let the writer's thread go (once nothing is waiting any more)."""
        self._thread.shutdown(wait=False)


@dataclass(frozen=True)
class _Failed:
    error: Exception


def commit_together(engine: Engine, works: list[Work]) -> list[Any]:
    """Run each work in its own savepoint of one transaction, then commit once; the
    results in order, a `_Failed` for each that raised (or for all, if the commit did)."""
    outcomes: list[Any] = []
    try:
        with engine.begin() as conn:
            for work in works:
                try:
                    with conn.begin_nested():
                        outcomes.append(work(conn))
                except Exception as error:  # rolled back to its savepoint; the others go on
                    outcomes.append(_Failed(error))
            fulltext.catch_up(conn)  # once for the batch, outside the savepoints
    except Exception as error:  # nothing of the batch was committed
        return [_Failed(error)] * len(works)
    return outcomes
