"""Sealing: an audit log gets its key, once (`init`, `serve` at start, fresh test data).

A log without a key — a new database, or one written before the chain was keyed — gets a new
`DIR/audit.key`. Its old rows are first checked under the old unkeyed scheme, then re-keyed
in place (ids, content and any gaps unchanged), and an `audit.sealed` row records how many
were re-keyed and every problem the old check found, so keying never launders earlier
damage. A log that already has a key is never sealed again: without its key file it stops
with one line (`log.require_secret`). The key file is put in place only after the database
commit (`AuditKey.install_pending`); a crash in between is finished at the next start.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select, update

from mailgate.audit.key import AuditKey
from mailgate.audit.log import (
    GENESIS,
    Head,
    append_with,
    read_head,
    require_secret,
    row_hash,
    serialise_writers,
    unkeyed_row_hash,
    write_head,
)
from mailgate.audit.verify import SEALED, walk
from mailgate.db.schema import audit_log
from mailgate.service import Service

BATCH = 5000
KEPT_PROBLEMS = 20


def _unkeyed_problems(conn: Connection, head: Head | None) -> list[str]:
    rows = conn.execute(select(audit_log).order_by(audit_log.c.id)
                        .execution_options(yield_per=BATCH))
    found = walk(iter(rows), lambda r: unkeyed_row_hash(
        r.prev_hash, r.id, r.at, r.actor, r.role, r.action, r.account, r.details))
    problems = [str(p) for p in found.problems]
    if found.rows and head is None:
        problems.append("the head record was missing")
    elif head is not None and (head.last_id, head.last_hash) != (found.last_id,
                                                                 found.last_hash):
        problems.append(f"the head record said the chain ends at row {head.last_id}, "
                        f"it ends at row {found.last_id}")
    return problems


def _rekey(conn: Connection, secret: bytes) -> tuple[int, str, int]:
    """Re-hash every row under the key, in id order; returns (rows, last hash, last id)."""
    prev, last_id, count = GENESIS, 0, 0
    change = (update(audit_log).where(audit_log.c.id == bindparam("row_id"))
              .values(prev_hash=bindparam("new_prev"), hash=bindparam("new_hash")))
    while True:
        batch = conn.execute(select(audit_log).where(audit_log.c.id > last_id)
                             .order_by(audit_log.c.id).limit(BATCH)).all()
        if not batch:
            return count, prev, last_id
        updates = []
        for r in batch:
            digest = row_hash(secret, prev, r.id, r.at, r.actor, r.role, r.action, r.account,
                              r.details)
            updates.append({"row_id": r.id, "new_prev": prev, "new_hash": digest})
            prev = digest
        conn.execute(change, updates)
        last_id, count = batch[-1].id, count + len(batch)


def seal(svc: Service) -> None:
    """Make sure the audit log has its key; a no-op when it has."""
    key: AuditKey = svc.audit_key
    with svc.engine.begin() as conn:
        serialise_writers(conn)
        head = read_head(conn)
        if key.exists():
            secret = require_secret(conn, key)  # readable and well-formed, or one line
            empty = conn.execute(select(audit_log.c.id).limit(1)).first() is None
            if head is None and empty:  # a new, empty database for this directory
                write_head(conn, secret, 0, GENESIS)
            return
        pending = key.read_pending()
        if head is not None and head.mac is not None:
            if pending is not None and head.verifies(pending):
                key.install_pending(pending)  # a sealing that crashed before the rename
                return
            require_secret(conn, key)  # raises: the keyed log's key is missing
        unkeyed = _unkeyed_problems(conn, head)
        secret = key.write_pending()
        count, last_hash, last_id = _rekey(conn, secret)
        write_head(conn, secret, last_id, last_hash)
        if count:
            append_with(conn, secret, key, [{
                "at": svc.clock(), "actor": "system", "role": "system", "action": SEALED,
                "account": None, "details": {"rekeyed": count,
                                             "unkeyed_problem_count": len(unkeyed),
                                             "unkeyed_problems": unkeyed[:KEPT_PROBLEMS]}}])
    key.install_pending(secret)
