"""The append-only, keyed hash chain of the audit log (SPEC §9).

Each row's hash is an HMAC-SHA256, under the secret in `DIR/audit.key` (audit/key.py), of
the previous row's hash and the row's own content. The head record in `meta` holds the last
id, the last hash and an HMAC of both, so whoever can write the database but not read the
key can neither recompute the chain nor move its end. New ids continue from the head (never
from the rows still there), so a row cut off the end is never reused; a head that is missing
or does not verify is written into the chain itself (an `audit.damage` row) before anything
else is appended, so that damage stays visible. `audit/verify.py` walks the chain;
`audit/seal.py` gives a log its key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, select, text, update

from mailgate.audit.key import AuditKey, AuditKeyError, AuditKeyMissing
from mailgate.db.schema import audit_log, meta

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 7_201_001
HEAD_KEY = "audit_head"
#: The execution option (set by `Service.open` on its engine) that carries the AuditKey.
KEY_OPTION = "audit_key"
#: Written first by an append that found the head record missing or not verifying.
DAMAGE = "audit.damage"


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _material(prev: str, row_id: int, at: float, actor: str, role: str, action: str,
              account: str | None, details: str) -> bytes:
    return "\x1f".join(
        [prev, str(row_id), repr(float(at)), actor, role, action, account or "", details]
    ).encode()


def row_hash(secret: bytes, prev: str, row_id: int, at: float, actor: str, role: str,
             action: str, account: str | None, details: str) -> str:
    material = _material(prev, row_id, at, actor, role, action, account, details)
    return hmac.new(secret, material, hashlib.sha256).hexdigest()


def unkeyed_row_hash(prev: str, row_id: int, at: float, actor: str, role: str, action: str,
                     account: str | None, details: str) -> str:
    """The scheme before the chain was keyed: what sealing checks old rows with, and what
    someone without the key recomputes a forged row with."""
    material = _material(prev, row_id, at, actor, role, action, account, details)
    return hashlib.sha256(material).hexdigest()


def stored_row_hash(secret: bytes, row: Row) -> str:
    """What the hash of a stored row should be, from its stored link and content."""
    return row_hash(secret, row.prev_hash, row.id, row.at, row.actor, row.role, row.action,
                    row.account, row.details)


def head_mac(secret: bytes, last_id: int, last_hash: str) -> str:
    return hmac.new(secret, f"head\x1f{last_id}\x1f{last_hash}".encode(),
                    hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Head:
    """Where the chain ends, as recorded at the last append."""

    last_id: int
    last_hash: str
    mac: str | None  # None: the unkeyed head record of a version before the keyed chain

    def verifies(self, secret: bytes) -> bool:
        return self.mac is not None and hmac.compare_digest(
            self.mac, head_mac(secret, self.last_id, self.last_hash))


def read_head(conn: Connection) -> Head | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == HEAD_KEY)).scalar()
    if value is None:
        return None
    parts = bytes(value).decode(errors="replace").split(":")
    try:
        last_id = int(parts[0])
    except ValueError:
        return Head(0, "", "")  # unreadable: it verifies under no key
    return Head(last_id, parts[1] if len(parts) > 1 else "",
                parts[2] if len(parts) > 2 else None)


def write_head(conn: Connection, secret: bytes, last_id: int, last_hash: str) -> None:
    value = f"{last_id}:{last_hash}:{head_mac(secret, last_id, last_hash)}".encode()
    if conn.execute(update(meta).where(meta.c.key == HEAD_KEY).values(value=value)).rowcount:
        return
    conn.execute(meta.insert().values(key=HEAD_KEY, value=value))


def serialise_writers(conn: Connection) -> None:
    """Chain appends must not interleave: SQLite's BEGIN IMMEDIATE does it, PG needs a lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})


def _top(conn: Connection) -> int:
    return int(conn.execute(select(func.max(audit_log.c.id))).scalar() or 0)


def high_water(conn: Connection) -> int:
    """The highest id ever written as far as the database remembers (rows cut off the end
    included): SQLite's AUTOINCREMENT record, PostgreSQL's serial sequence. Only for when the
    head is gone: PostgreSQL's sequence does not roll back, so it may run ahead."""
    top = _top(conn)
    if conn.dialect.name == "sqlite":
        seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'"))
    else:
        seq = conn.execute(text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                                "FROM audit_log_id_seq"))
    return max(top, int(seq.scalar() or 0))


def _remember_high_water(conn: Connection, last_id: int) -> None:
    if conn.dialect.name == "postgresql":  # SQLite's AUTOINCREMENT keeps its own record
        conn.execute(text("SELECT setval('audit_log_id_seq', :n)"), {"n": last_id})


def require_secret(conn: Connection, key: AuditKey) -> bytes:
    """The key's secret, or one line saying why there is none and what to do."""
    try:
        return key.secret()
    except AuditKeyMissing:
        head = read_head(conn)
        if head is not None and head.mac is not None:
            raise AuditKeyError(
                f"the audit key {key.path} is missing, but this audit log is keyed with it: "
                "restore the file from a backup (or copy it from the node that made it); "
                "mailgate never makes a new key for a keyed log") from None
        raise AuditKeyError(
            f"the audit log has no key yet ({key.path} is missing): run 'mailgate init' "
            "(or start 'mailgate serve') once after upgrading") from None


def key_of(conn: Connection) -> AuditKey:
    key = conn.get_execution_options().get(KEY_OPTION)
    if not isinstance(key, AuditKey):
        raise RuntimeError("this connection's engine carries no audit key (Service.open sets it)")
    return key


def _damage_entry(head: Head | None, last: Row | None, at: float) -> dict[str, Any]:
    return {"at": at, "actor": "system", "role": "system", "action": DAMAGE, "account": None,
            "details": {"head": "missing" if head is None else "does not verify",
                        "head_said": head.last_id if head is not None else None,
                        "last_row": last.id if last is not None else 0}}


def append_with(conn: Connection, secret: bytes, key: AuditKey,
                entries: list[dict[str, Any]]) -> None:
    """Append entries (keys: at, actor, role, action, account, details) in order."""
    if not entries:
        return
    serialise_writers(conn)
    head = read_head(conn)
    if head is not None and head.verifies(secret):
        prev, next_id = head.last_hash, max(head.last_id, _top(conn)) + 1
    else:
        last = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).first()
        if last is not None and stored_row_hash(secret, last) != last.hash:
            raise AuditKeyError(
                f"nothing at the end of the audit log verifies with {key.path}: it is not the "
                "key this log was written with, or the log was rewritten; run 'mailgate audit "
                "verify'")
        prev, next_id = (last.hash if last is not None else GENESIS), high_water(conn) + 1
        entries = [_damage_entry(head, last, entries[0]["at"]), *entries]
    rows = []
    for entry in entries:
        details = canonical(entry["details"])
        digest = row_hash(secret, prev, next_id, entry["at"], entry["actor"], entry["role"],
                          entry["action"], entry.get("account"), details)
        rows.append({"id": next_id, "at": float(entry["at"]), "actor": entry["actor"],
                     "role": entry["role"], "action": entry["action"],
                     "account": entry.get("account"), "details": details,
                     "prev_hash": prev, "hash": digest})
        prev, next_id = digest, next_id + 1
    conn.execute(audit_log.insert(), rows)
    write_head(conn, secret, next_id - 1, prev)
    _remember_high_water(conn, next_id - 1)


def append_many(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Append entries with the key of the connection's service."""
    if not entries:
        return
    key = key_of(conn)
    append_with(conn, require_secret(conn, key), key, entries)


def append(conn: Connection, *, at: float, actor: str, role: str, action: str,
           account: str | None, details: dict[str, Any]) -> None:
    append_many(conn, [{"at": at, "actor": actor, "role": role, "action": action,
                        "account": account, "details": details}])
