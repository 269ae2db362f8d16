"""Audit (SPEC §9): every change is recorded with who/role/what/before->after, in a keyed
hash chain whose every kind of damage `verify` names in one line (defect 4). Tampering is
plain SQL, as anyone with write access to the database could do, on every backend."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest
from sqlalchemy import insert, select, text, update

from mailgate.audit import log as audit
from mailgate.audit.key import AuditKey, AuditKeyError
from mailgate.audit.seal import seal
from mailgate.audit.verify import verify
from mailgate.db import schema
from mailgate.directory import accounts, cases, doors
from mailgate.directory.authority import Actor
from mailgate.directory.views import load_actor
from mailgate.service import Service

SYSTEM = Actor.system()
A = "ann@example.test"

#: action -> (account it names, keys its details must carry)
EXPECTED = {
    "department.create": (None, {"department"}),
    "department.policy": (None, {"department", "protocol", "before", "after"}),
    "plan.set": (None, {"plan", "protocol", "before", "after", "existing", "affected"}),
    "account.create": (A, {"after"}),
    "role.grant": (A, {"after"}),
    "account.password": (A, set()),
    "protocol.set": (A, {"protocol", "before", "after", "reason", "case", "expires_in"}),
    "alert.door_reopened": (A, {"protocol", "detail"}),
    "case.open": (A, {"case", "protocol", "want", "note"}),
    "case.escalate": (A, {"case", "before", "after"}),
    "case.approve": (A, {"case", "before", "after"}),
    "case.deny": (A, {"case", "before", "after"}),
    "account.compromise": (A, {"before", "after", "reason"}),
    "account.restore": (A, {"before", "after", "note", "verified_by"}),
    "account.deactivate": (A, {"before", "after"}),
    "account.activate": (A, {"before", "after"}),
}


def every_kind_of_change(svc: Service) -> None:
    doors.create_department(svc, SYSTEM, "Physics")
    doors.set_department_policy(svc, SYSTEM, "Physics", "pop", deny=True)
    doors.plan_set(svc, SYSTEM, "standard", "dav", False)
    accounts.create(svc, SYSTEM, A, "first-password", department="Physics")
    accounts.create(svc, SYSTEM, "hd@example.test", "first-password")
    accounts.grant_role(svc, SYSTEM, A, "helpdesk")
    accounts.grant_role(svc, SYSTEM, "hd@example.test", "helpdesk")
    with svc.engine.connect() as conn:
        hd = load_actor(conn, "hd@example.test")
    accounts.set_password(svc, hd, A, "second-password")
    doors.set_protocol(svc, hd, A, "imap", False, reason="user asked")
    doors.set_protocol(svc, SYSTEM, A, "imap", True)  # raises alert.door_reopened
    first = cases.open_case(svc, hd, A, "smtp", False, "spam run")
    cases.escalate(svc, hd, first)
    cases.approve(svc, SYSTEM, first, seconds=3600)
    second = cases.open_case(svc, hd, A, "web", False, "x")
    cases.deny(svc, hd, second)
    accounts.compromise(svc, hd, A, "phished")
    accounts.restore(svc, hd, A, "third-password", "ID card checked by hd")
    accounts.deactivate(svc, SYSTEM, A)
    accounts.activate(svc, SYSTEM, A)


def rows(svc: Service) -> list:
    with svc.engine.connect() as conn:
        return conn.execute(select(schema.audit_log).order_by(schema.audit_log.c.id)).all()


def problems(svc: Service) -> list[tuple[int | None, str]]:
    """Each problem as (first row, its one line)."""
    with svc.reader.connect() as conn:
        return [(p.row_id, str(p)) for p in verify(conn, svc.audit_key)[1]]


def sql(svc: Service, statement: str, **params: object) -> None:
    """Tamper as anyone with write access to the database would: plain SQL."""
    with svc.engine.begin() as conn:
        conn.execute(text(statement), params)


def change(svc: Service, name: str = "late") -> None:
    accounts.create(svc, SYSTEM, f"{name}@example.test", "late-password")


def test_every_change_writes_an_audit_row_with_actor_role_action_account_and_details(svc):
    every_kind_of_change(svc)
    log = rows(svc)
    assert {r.action for r in log} == set(EXPECTED)
    for r in log:
        account, keys = EXPECTED[r.action]
        details = json.loads(r.details)
        assert r.account == account or (account and r.account == "hd@example.test"), r.action
        assert keys <= set(details), (r.action, details)
        assert r.actor in ("system", "hd@example.test")
        assert r.role == ("system" if r.actor == "system" else "helpdesk")
        assert r.at > 0
    by_action = {r.action: json.loads(r.details) for r in log}
    sets = [json.loads(r.details) for r in log if r.action == "protocol.set"]
    assert [(d["protocol"], d["before"], d["after"]) for d in sets] == [
        ("imap", {"enabled": True, "reason": "plan_default"},
         {"enabled": False, "reason": "account_setting"}),
        ("imap", {"enabled": False, "reason": "account_setting"},
         {"enabled": True, "reason": "account_setting"}),
        ("smtp", {"enabled": True, "reason": "plan_default"},
         {"enabled": False, "reason": "temporary_grant"}),
    ]
    assert sets[0]["reason"] == "user asked" and sets[2]["case"] is not None
    assert by_action["account.compromise"] == {
        "before": {"state": "active"}, "after": {"state": "compromised"},
        "reason": "phished", "app_passwords_revoked": 0, "tokens_revoked": "all",
        "api_keys_revoked": 0}
    assert by_action["account.restore"]["verified_by"] == "hd@example.test"
    assert problems(svc) == []


def test_a_refused_change_writes_no_audit_row(svc):
    accounts.create(svc, SYSTEM, A, "first-password")
    count = len(rows(svc))
    with pytest.raises(Exception):  # noqa: B017 - any refusal
        accounts.restore(svc, SYSTEM, A, "second-password", "not compromised")
    assert len(rows(svc)) == count


@pytest.mark.parametrize("column,value", [("details", '{"after":{"state":"active"}}'),
                                          ("actor", "mallory@example.test"),
                                          ("role", "admin"), ("at", 1.0),
                                          ("account", "bob@example.test")])
def test_verify_names_the_exact_row_whose_content_was_edited(svc, column, value):
    every_kind_of_change(svc)
    victim = rows(svc)[6].id
    with svc.engine.begin() as conn:
        conn.execute(update(schema.audit_log).where(schema.audit_log.c.id == victim)
                     .values({column: value}))
    assert problems(svc) == [(victim, f"row {victim}: content was changed after it was "
                                      "written")]


def test_neighbouring_edited_rows_share_one_line(svc):
    every_kind_of_change(svc)
    sql(svc, "UPDATE audit_log SET actor = 'mallory' WHERE id IN (4, 5, 6)")
    assert problems(svc) == [(4, "rows 4..6: content was changed after it was written")]


def test_verify_names_rows_deleted_from_the_middle_in_one_line(svc):
    every_kind_of_change(svc)
    log = rows(svc)
    victim = log[5]
    sql(svc, "DELETE FROM audit_log WHERE id IN (:a, :b)", a=victim.id, b=victim.id + 1)
    assert problems(svc) == [(victim.id, f"rows {victim.id}..{victim.id + 1}: missing "
                                         "(deleted from the middle of the chain)")]
    with svc.engine.begin() as conn:  # putting the rows back makes the chain whole again
        conn.execute(insert(schema.audit_log), [log[5]._asdict(), log[6]._asdict()])
    assert problems(svc) == []


def test_a_row_rewritten_with_a_recomputed_unkeyed_hash_is_named_forged(svc):
    """Without the key a forger can only recompute the old unkeyed hash: that row fails, and
    the next row's link to it breaks."""
    every_kind_of_change(svc)
    r = rows(svc)[3]
    forged = '{"forged":true}'
    digest = audit.unkeyed_row_hash(r.prev_hash, r.id, r.at, r.actor, r.role, r.action,
                                    r.account, forged)
    sql(svc, "UPDATE audit_log SET details = :d, hash = :h WHERE id = :i", d=forged, h=digest,
        i=r.id)
    assert problems(svc) == [
        (r.id, f"row {r.id}: hash recomputed without the audit key (forged)"),
        (r.id + 1, f"row {r.id + 1}: link to the previous row is broken")]


def test_the_whole_unkeyed_chain_recomputed_from_a_row_on_is_named_forged(svc):
    """The attack on the unkeyed chain: rewrite a row, recompute every later hash and the
    head. It used to verify as intact."""
    every_kind_of_change(svc)
    log = rows(svc)
    prev = log[4].hash
    with svc.engine.begin() as conn:
        for r in log[5:]:
            actor = "mallory@example.test" if r.id == log[5].id else r.actor
            digest = audit.unkeyed_row_hash(prev, r.id, r.at, actor, r.role, r.action,
                                            r.account, r.details)
            conn.execute(text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h "
                              "WHERE id = :i"), {"a": actor, "p": prev, "h": digest, "i": r.id})
            prev = digest
        conn.execute(text("UPDATE meta SET value = :v WHERE key = 'audit_head'"),
                     {"v": f"{log[-1].id}:{prev}".encode()})
    assert problems(svc) == [
        (log[5].id, f"rows {log[5].id}..{log[-1].id}: hash recomputed without the audit key "
                    "(forged)"),
        (None, "the head record does not verify with the audit key: it was forged or "
               "replaced")]


def test_new_rows_chain_onto_the_log_from_one(svc):
    every_kind_of_change(svc)
    change(svc)
    log = rows(svc)
    assert [r.id for r in log] == list(range(1, len(log) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(log))
    assert log[0].prev_hash == audit.GENESIS


def test_an_append_rolled_back_with_its_change_leaves_no_gap(svc):
    """PostgreSQL's sequence does not roll back: ids must still come from the head."""
    change(svc, "first")
    with pytest.raises(RuntimeError), svc.engine.begin() as conn:
        audit.append(conn, at=1.0, actor="system", role="system", action="account.create",
                     account=None, details={})
        raise RuntimeError("the change failed after its audit row was written")
    change(svc, "second")
    assert [r.id for r in rows(svc)] == [1, 2]
    assert problems(svc) == []


def test_verify_notices_rows_cut_off_the_end(svc):
    every_kind_of_change(svc)
    last = rows(svc)[-1].id
    sql(svc, "DELETE FROM audit_log WHERE id >= :n", n=last - 1)
    assert problems(svc) == [(last - 1, f"rows {last - 1}..{last}: cut off the end of the "
                                        f"chain (the head record says it ends at row {last})")]


def test_an_id_cut_off_the_end_is_never_reused(svc):
    """Deleting the last row used to hand its id to the next append, and verify said intact."""
    every_kind_of_change(svc)
    last = rows(svc)[-1].id
    sql(svc, "DELETE FROM audit_log WHERE id = :n", n=last)
    change(svc)
    assert rows(svc)[-1].id == last + 1
    assert problems(svc) == [(last, f"row {last}: missing (deleted from the middle of the "
                                    "chain)")]


def test_cutting_the_last_row_and_the_head_together_is_noticed_and_stays_noticed(svc):
    every_kind_of_change(svc)
    last = rows(svc)[-1].id
    sql(svc, "DELETE FROM audit_log WHERE id = :n", n=last)
    sql(svc, "DELETE FROM meta WHERE key = 'audit_head'")
    assert problems(svc) == [(None, "the head record is missing: rows may have been cut off "
                                    "the end unnoticed")]
    change(svc)  # the next append records the damage in the chain itself, on a fresh id
    log = rows(svc)
    assert [r.id for r in log[-2:]] == [last + 1, last + 2]
    assert (log[-2].action, json.loads(log[-2].details)) == (
        "audit.damage", {"head": "missing", "head_said": None, "last_row": last - 1})
    assert problems(svc) == [
        (last, f"row {last}: missing (deleted from the middle of the chain)"),
        (last + 1, f"row {last + 1}: written when the head record was missing or did not "
                   "verify: rows may have been cut off the end before it")]


def test_a_head_moved_back_over_a_cut_is_noticed(svc):
    """Cut the last row and make the head name the row before: both are copied from the
    table, but the head's own HMAC cannot be made without the key."""
    every_kind_of_change(svc)
    log = rows(svc)
    sql(svc, "DELETE FROM audit_log WHERE id = :n", n=log[-1].id)
    sql(svc, "UPDATE meta SET value = :v WHERE key = 'audit_head'",
        v=f"{log[-2].id}:{log[-2].hash}:{'0' * 64}".encode())
    assert problems(svc) == [(None, "the head record does not verify with the audit key: it "
                                    "was forged or replaced")]


def test_rows_added_after_the_head_are_named(svc):
    every_kind_of_change(svc)
    last = rows(svc)[-1]
    sql(svc, "INSERT INTO audit_log (id, at, actor, role, action, account, details, "
             "prev_hash, hash) VALUES (:i, 1.0, 'mallory', 'admin', 'role.grant', NULL, '{}', "
             ":p, :h)", i=last.id + 1, p=last.hash, h="f" * 64)
    assert problems(svc) == [
        (last.id + 1, f"row {last.id + 1}: content was changed after it was written"),
        (last.id + 1, f"row {last.id + 1}: added after the last row mailgate wrote (the head "
                      f"record says the chain ends at row {last.id})")]


def reopened_key(svc: Service) -> Service:
    """The service as a new process would see it: the key file read afresh."""
    key = AuditKey(svc.audit_key.path)
    svc.engine.update_execution_options(audit_key=key)
    return replace(svc, audit_key=key)


def test_another_key_verifies_nothing_and_appends_nothing(svc):
    every_kind_of_change(svc)
    count = len(rows(svc))
    svc.audit_key.path.write_text("ab" * 32 + "\n")
    wrong = reopened_key(svc)
    assert problems(wrong) == [(None, f"nothing in the audit log verifies with "
                                      f"{svc.audit_key.path}: it is not the key this log was "
                                      "written with, or the whole log was forged")]
    with pytest.raises(AuditKeyError, match="nothing at the end of the audit log verifies"):
        change(wrong)
    assert len(rows(svc)) == count


def test_a_missing_key_is_one_line_and_never_replaced_by_a_new_one(svc):
    every_kind_of_change(svc)
    svc.audit_key.path.unlink()
    lost = reopened_key(svc)
    message = (f"the audit key {svc.audit_key.path} is missing, but this audit log is keyed "
               "with it: restore the file from a backup (or copy it from the node that made "
               "it); mailgate never makes a new key for a keyed log")
    with pytest.raises(AuditKeyError) as refused:
        problems(lost)
    assert str(refused.value) == message
    with pytest.raises(AuditKeyError, match="is missing, but this audit log is keyed"):
        change(lost)
    with pytest.raises(AuditKeyError, match="is missing, but this audit log is keyed"):
        seal(lost)
    assert not svc.audit_key.path.exists() and not svc.audit_key.pending.exists()
