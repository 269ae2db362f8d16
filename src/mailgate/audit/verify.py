"""`audit verify`: walk the keyed chain and name each kind of damage in one line.

Kinds: a row whose content changed, a row rewritten with a recomputed unkeyed hash (forged),
a broken link, rows missing in the middle, rows cut off the end (the head record says the
chain went further), rows added after the head, a missing or unverifiable head record,
rows written after such damage was found (`audit.damage`), problems the old unkeyed check
found when the log was keyed (`audit.sealed`), and — when nothing at all verifies — a wrong
key or a wholly forged log. Neighbouring rows with the same problem share one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Row, select

from mailgate.audit.key import AuditKey
from mailgate.audit.log import (
    DAMAGE,
    GENESIS,
    Head,
    read_head,
    require_secret,
    stored_row_hash,
    unkeyed_row_hash,
)
from mailgate.db.schema import audit_log

SEALED = "audit.sealed"
EDITED = "content was changed after it was written"
FORGED = "hash recomputed without the audit key (forged)"
BROKEN_LINK = "link to the previous row is broken"
MISSING = "missing (deleted from the middle of the chain)"
AFTER_DAMAGE = ("written when the head record was missing or did not verify: rows may have "
                "been cut off the end before it")


@dataclass(frozen=True)
class ChainProblem:
    """One kind of damage: at a row, over rows `row_id..last_row`, or (row_id None) the log."""

    row_id: int | None
    problem: str
    last_row: int | None = None

    def __str__(self) -> str:
        if self.row_id is None:
            return self.problem
        if self.last_row is not None and self.last_row != self.row_id:
            return f"rows {self.row_id}..{self.last_row}: {self.problem}"
        return f"row {self.row_id}: {self.problem}"


@dataclass
class Walk:
    """What walking the rows found; `last_id`/`last_hash` are where the chain really ends."""

    problems: list[ChainProblem]
    last_id: int = 0
    last_hash: str = GENESIS
    rows: int = 0
    verified: int = 0


def _add(problems: list[ChainProblem], row_id: int, problem: str) -> None:
    """Record a row's problem, joining it to the previous line for the row just before."""
    if problems:
        previous = problems[-1]
        end = previous.last_row if previous.last_row is not None else previous.row_id
        if previous.problem == problem and end == row_id - 1:
            problems[-1] = ChainProblem(previous.row_id, problem, row_id)
            return
    problems.append(ChainProblem(row_id, problem))


def walk(rows: Iterator[Row], expected_hash: Callable[[Row], str]) -> Walk:
    """Every row's position, link and hash, in id order."""
    found = Walk([])
    prev, expected_id = GENESIS, 1
    for row in rows:
        if row.id != expected_id:
            found.problems.append(ChainProblem(expected_id, MISSING, row.id - 1))
        elif row.prev_hash != prev:
            found.problems.append(ChainProblem(row.id, BROKEN_LINK))
        if expected_hash(row) == row.hash:
            found.verified += 1
        else:
            forged = unkeyed_row_hash(row.prev_hash, row.id, row.at, row.actor, row.role,
                                      row.action, row.account, row.details) == row.hash
            _add(found.problems, row.id, FORGED if forged else EDITED)
        prev, expected_id = row.hash, row.id + 1
        found.rows += 1
    found.last_id, found.last_hash = expected_id - 1, prev
    return found


def head_problem(head: Head | None, secret: bytes, found: Walk) -> ChainProblem | None:
    if head is None:
        return ChainProblem(None, "the head record is missing: rows may have been cut off the "
                                  "end unnoticed")
    if not head.verifies(secret):
        return ChainProblem(None, "the head record does not verify with the audit key: it was "
                                  "forged or replaced")
    if head.last_id > found.last_id:
        return ChainProblem(found.last_id + 1, "cut off the end of the chain (the head record "
                            f"says it ends at row {head.last_id})", head.last_id)
    if head.last_id < found.last_id:
        return ChainProblem(head.last_id + 1, "added after the last row mailgate wrote (the "
                            f"head record says the chain ends at row {head.last_id})",
                            found.last_id)
    if head.last_hash != found.last_hash:
        return ChainProblem(found.last_id, "is not the last row mailgate wrote (its hash "
                            "differs from the head record's)")
    return None


def _recorded_damage(row: Row) -> ChainProblem | None:
    """Damage the chain itself records: an append that found the head gone, or old problems
    found when an unkeyed log was keyed."""
    if row.action == DAMAGE:
        return ChainProblem(row.id, AFTER_DAMAGE)
    if row.action == SEALED:
        details = json.loads(row.details)
        count = int(details.get("unkeyed_problem_count") or 0)
        if count:
            first = (details.get("unkeyed_problems") or ["?"])[0]
            return ChainProblem(row.id, f"when the log was keyed, the unkeyed check found "
                                        f"{count} problem(s), first: {first}")
    return None


def verify(conn: Connection, key: AuditKey) -> tuple[int, list[ChainProblem]]:
    """(number of rows, every problem of the chain under `key`)."""
    secret = require_secret(conn, key)
    recorded: list[ChainProblem] = []

    def rows() -> Iterator[Row]:
        result = conn.execute(select(audit_log).order_by(audit_log.c.id)
                              .execution_options(yield_per=2000))
        for row in result:
            if row.action in (DAMAGE, SEALED) and stored_row_hash(secret, row) == row.hash:
                problem = _recorded_damage(row)
                if problem is not None:
                    recorded.append(problem)
            yield row

    found = walk(rows(), lambda row: stored_row_hash(secret, row))
    head = read_head(conn)
    at_head = head_problem(head, secret, found)
    if found.rows and not found.verified and at_head is not None and at_head.row_id is None:
        return found.rows, [ChainProblem(None, f"nothing in the audit log verifies with "
                                               f"{key.path}: it is not the key this log was "
                                               "written with, or the whole log was forged")]
    problems = sorted(found.problems + recorded,
                      key=lambda p: p.row_id if p.row_id is not None else 0)
    return found.rows, problems + ([at_head] if at_head is not None else [])
