"""The append-only, hash-chained audit log (SPEC §9).

Each row's hash covers the previous row's hash and the row's own content, so editing,
deleting or reordering any row breaks the chain from that row on; `verify` names the row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text, update

from mailgate.db.schema import audit_log, meta

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 7_201_001
HEAD_KEY = "audit_head"


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev: str, row_id: int, at: float, actor: str, role: str, action: str,
             account: str | None, details: str) -> str:
    material = "\x1f".join(
        [prev, str(row_id), repr(float(at)), actor, role, action, account or "", details]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _serialise_writers(conn: Connection) -> None:
    """Chain appends must not interleave: SQLite's BEGIN IMMEDIATE does it, PG needs a lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})


def append_many(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Append entries (keys: at, actor, role, action, account, details) in order."""
    if not entries:
        return
    _serialise_writers(conn)
    last = conn.execute(
        select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).first()
    prev, next_id = (last.hash, last.id + 1) if last else (GENESIS, 1)
    rows = []
    for entry in entries:
        details = canonical(entry["details"])
        digest = row_hash(prev, next_id, entry["at"], entry["actor"], entry["role"],
                          entry["action"], entry.get("account"), details)
        rows.append({"id": next_id, "at": float(entry["at"]), "actor": entry["actor"],
                     "role": entry["role"], "action": entry["action"],
                     "account": entry.get("account"), "details": details,
                     "prev_hash": prev, "hash": digest})
        prev, next_id = digest, next_id + 1
    conn.execute(audit_log.insert(), rows)
    _write_head(conn, next_id - 1, prev)


def _write_head(conn: Connection, last_id: int, last_hash: str) -> None:
    """Keep the chain head beside the chain, so cutting rows off the end is noticed too."""
    value = f"{last_id}:{last_hash}".encode()
    if conn.execute(update(meta).where(meta.c.key == HEAD_KEY).values(value=value)).rowcount:
        return
    conn.execute(meta.insert().values(key=HEAD_KEY, value=value))


def head(conn: Connection) -> tuple[int, str] | None:
    """(id, hash) of the newest audit row as recorded at append time."""
    value = conn.execute(select(meta.c.value).where(meta.c.key == HEAD_KEY)).scalar()
    if value is None:
        return None
    last_id, _, last_hash = bytes(value).decode().partition(":")
    return int(last_id), last_hash


def append(conn: Connection, *, at: float, actor: str, role: str, action: str,
           account: str | None, details: dict[str, Any]) -> None:
    append_many(conn, [{"at": at, "actor": actor, "role": role, "action": action,
                        "account": account, "details": details}])


@dataclass(frozen=True)
class ChainProblem:
    row_id: int
    problem: str


def verify(conn: Connection) -> list[ChainProblem]:
    """Walk the chain; report every row whose content, link or position does not hold."""
    problems: list[ChainProblem] = []
    prev, expected_id = GENESIS, 1
    result = conn.execution_options(yield_per=2000).execute(
        select(audit_log).order_by(audit_log.c.id)
    )
    for row in result:
        if row.id != expected_id:
            problems.append(ChainProblem(row.id, f"rows {expected_id}..{row.id - 1} are missing"))
        if row.prev_hash != prev:
            problems.append(ChainProblem(row.id, "link to the previous row is broken"))
        digest = row_hash(row.prev_hash, row.id, row.at, row.actor, row.role, row.action,
                          row.account, row.details)
        if digest != row.hash:
            problems.append(ChainProblem(row.id, "content was changed after it was written"))
        prev, expected_id = row.hash, row.id + 1
    recorded = head(conn)
    if recorded is not None and recorded != (expected_id - 1, prev):
        problems.append(ChainProblem(recorded[0], f"the chain should end at row {recorded[0]} "
                                     f"but ends at row {expected_id - 1}: rows were removed "
                                     "from the end, or the head record was changed"))
    return problems
