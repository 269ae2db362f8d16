"""Group commit: the deliveries that arrive together share one transaction and one sync.

A durable commit costs one WAL fsync on SQLite (synchronous=FULL) and one WAL flush on
PostgreSQL, and SQLite lets one writer in at a time: committing each arriving message on its
own serialises the server on the disk. Here each delivery hands its rows to `run` as a
function of the connection; one writer task takes every delivery waiting (up to `most`),
runs them in one transaction, each in its own SAVEPOINT, and commits once. Every waiter gets
its own result, or its own exception, only after that commit returned: nobody is answered
before their rows are durable. Works of a kind that can run several at once (`Together`:
every SMTP, LMTP and web arrival, `delivery.Rows`) run in one savepoint with one set of
statements for all; should that fail, each runs again on its own. A delivery whose function
raises is rolled back to its savepoint and fails alone; a commit that fails fails the
deliveries of that batch (none of them was stored), which the doors answer with a temporary
error. The full-text index takes the batch's new messages once, after the savepoints
(`fulltext.catch_up`).

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
from typing import Any, Protocol, TypeVar, runtime_checkable

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


@runtime_checkable
class Together(Protocol):
    """A work whose kind can also run several at once (`together`): one set of statements
    for all of them instead of one per work."""

    def __call__(self, conn: Connection) -> Any: ...

    @classmethod
    def together(cls, conn: Connection, works: list[Any]) -> list[Any]:
        """Each work's result, or the exception it fails with, in order; raising fails
        none of them: they are then run one by one."""


def commit_together(engine: Engine, works: list[Work]) -> list[Any]:
    """Run the works in one transaction, then commit once: the works of a kind that runs
    `together` in one savepoint per kind, the others (and those, if that savepoint failed)
    each in its own; the results in order, a `_Failed` for each that failed (or for all,
    if the commit did)."""
    outcomes: dict[int, Any] = {}
    kinds: dict[type[Together], list[int]] = {}
    for index, work in enumerate(works):
        if isinstance(work, Together):
            kinds.setdefault(type(work), []).append(index)
    try:
        with engine.begin() as conn:
            for kind, indexes in kinds.items():
                if len(indexes) > 1:
                    try:
                        with conn.begin_nested():
                            results = kind.together(conn, [works[i] for i in indexes])
                    except Exception:  # rolled back: each on its own below, to fail alone
                        continue
                    outcomes.update((i, _Failed(r) if isinstance(r, Exception) else r)
                                    for i, r in zip(indexes, results, strict=True))
            for index, work in enumerate(works):
                if index in outcomes:
                    continue
                try:
                    with conn.begin_nested():
                        outcomes[index] = work(conn)
                except Exception as error:  # rolled back to its savepoint; the others go on
                    outcomes[index] = _Failed(error)
            fulltext.catch_up(conn)  # once for the batch, outside the savepoints
    except Exception as error:  # nothing of the batch was committed
        return [_Failed(error)] * len(works)
    return [outcomes[i] for i in range(len(works))]
