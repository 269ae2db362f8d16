"""One `serve` per SQLite data directory: an exclusive lock on DIR/serve.pid for its life.

SQLite is the embedded one-node deployment: a second `serve` on the same data directory
would hand out the same maildrops, so it refuses to start. Holding the lock also proves
that no other node uses the database, so whatever other nodes left there is stale.
PostgreSQL deployments may run several nodes (one data directory each), coordinated
through the database (`mailgate.nodes`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from mailgate.service import Service

PID_FILE = "serve.pid"


class ServeRefused(Exception):
    """This data directory cannot be served by this process."""


@contextmanager
def hold(svc: Service) -> Iterator[bool]:
    """Hold the data directory while serving; yields True when this node is sure to be the
    database's only node (SQLite), False on PostgreSQL."""
    if svc.engine.dialect.name != "sqlite":
        yield False
        return
    path = svc.settings.data_dir / PID_FILE
    try:
        file = path.open("a+")
    except OSError as exc:
        raise ServeRefused(f"cannot open {path}: {exc.strerror}") from exc
    with file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            pid = file.read().strip()
            who = f" (pid {pid})" if pid.isdigit() else ""
            raise ServeRefused(f"another mailgate serve{who} is already running on "
                               f"{svc.settings.data_dir}; stop it first (one server per "
                               "SQLite data directory)") from None
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        yield True
