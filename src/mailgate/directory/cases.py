"""Cases: a request to open or close a door, `open -> escalated -> approved | denied` (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from mailgate.db.schema import accounts, case_notes, cases
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record, transaction
from mailgate.directory.doors import apply_account_setting, check_department_lock
from mailgate.directory.errors import DirectoryError, InvalidTransition, NotAllowed, NotFound
from mailgate.directory.notes import bounded
from mailgate.directory.views import account_row, normalise_address, require_plain
from mailgate.policy.catalogue import DISPLAY, normalise_protocol
from mailgate.service import Service

ACTIONS = {"escalated": "case.escalate", "approved": "case.approve", "denied": "case.deny"}


@dataclass(frozen=True)
class Case:
    id: int
    account: str
    protocol: str
    want: str
    status: str
    note: str
    opened_by: str
    decided_by: str | None
    expires_at: float | None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "account": self.account, "protocol": self.protocol,
                "want": self.want, "status": self.status, "note": self.note,
                "opened_by": self.opened_by, "decided_by": self.decided_by,
                "expires_at": self.expires_at}


def open_case(svc: Service, actor: Actor, address: str, protocol: str, want: bool,
              note: str) -> int:
    protocol = normalise_protocol(protocol)
    if not bounded(note, "--note").strip():
        raise DirectoryError("a case needs a note: --note TEXT")
    require_plain(note, "note")
    now = svc.clock()
    with transaction(svc.engine) as conn:
        row = account_row(conn, address)
        authority.require_case_open(actor, row.id, row.address)
        check_department_lock(conn, now, actor, row, protocol, want, "case.open.refused",
                              note=note)
        case_id = int(conn.execute(cases.insert().values(
            account_id=row.id, protocol=protocol, want=want, status="open",
            opened_by=actor.address, opened_at=now, note=note)).inserted_primary_key[0])
        record(conn, now, actor, "case.open", account=row.address, scope="none", case=case_id,
               protocol=protocol, want="on" if want else "off", note=note)
    return case_id


def _load(conn, case_id: int):  # type: ignore[no-untyped-def]
    row = conn.execute(select(cases, accounts.c.address).join(
        accounts, accounts.c.id == cases.c.account_id).where(cases.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case #{case_id}")
    return row


def _decide(svc: Service, actor: Actor, case_id: int, status: str,
            seconds: int | None = None) -> None:
    now = svc.clock()
    with transaction(svc.engine) as conn:
        case = _load(conn, case_id)
        if case.status not in ("open", "escalated"):
            raise InvalidTransition(f"case #{case_id} is already {case.status}")
        if status == "escalated":
            authority.require_staff(actor, "escalate cases")
            if case.status == "escalated":
                raise InvalidTransition(f"case #{case_id} is already escalated")
        elif status == "denied":
            authority.require_staff(actor, "deny cases")
        else:
            authority.require_staff(actor, "approve cases")
            authority.require_not_self(actor, case.account_id)
            try:
                authority.require_protocol_change(actor, case.address, case.protocol,
                                                  case.want, svc.restricted)
            except NotAllowed:
                name = DISPLAY[case.protocol]
                raise NotAllowed(
                    f"only the mail team can approve turning {name} "
                    f"{'on' if case.want else 'off'}; escalate the case: "
                    f"mailgate case escalate {case_id}") from None
            check_department_lock(conn, now, actor, account_row(conn, case.address),
                                  case.protocol, case.want, "case.approve.refused",
                                  case=case_id)
        conn.execute(update(cases).where(cases.c.id == case_id).values(
            status=status, decided_by=actor.address, decided_at=now,
            expires_at=now + seconds if seconds else None))
        record(conn, now, actor, ACTIONS[status], account=case.address,
               scope="none", case=case_id, before=case.status, after=status,
               expires_in=seconds)
        if status == "approved":
            apply_account_setting(conn, svc, actor, case.account_id, case.protocol, case.want,
                                  seconds=seconds, case_id=case_id,
                                  reason=f"approved case #{case_id}")


def escalate(svc: Service, actor: Actor, case_id: int) -> None:
    _decide(svc, actor, case_id, "escalated")


def approve(svc: Service, actor: Actor, case_id: int, seconds: int | None = None) -> None:
    _decide(svc, actor, case_id, "approved", seconds)


def deny(svc: Service, actor: Actor, case_id: int) -> None:
    _decide(svc, actor, case_id, "denied")


@dataclass(frozen=True)
class CaseNote:
    author: str
    at: float
    note: str


def add_note(svc: Service, actor: Actor, case_id: int, note: str) -> None:
    """Add a note to a waiting (open or escalated) case: what the help desk learned since."""
    authority.require_staff(actor, "add notes to cases")
    if not bounded(note, "--note").strip():
        raise DirectoryError("a note needs some text")
    require_plain(note, "note")
    now = svc.clock()
    with transaction(svc.engine) as conn:
        case = _load(conn, case_id)
        if case.status not in ("open", "escalated"):
            raise InvalidTransition(f"case #{case_id} is already {case.status}")
        conn.execute(case_notes.insert().values(case_id=case_id, author=actor.address,
                                                at=now, note=note))
        record(conn, now, actor, "case.note", account=case.address, scope="none",
               case=case_id, note=note)


def notes_of(svc: Service, actor: Actor, case_ids: list[int]) -> dict[int, list[CaseNote]]:
    """The notes added to each of these cases, oldest first (staff only)."""
    authority.require_staff(actor, "read case notes")
    found: dict[int, list[CaseNote]] = {i: [] for i in case_ids}
    with svc.reader.connect() as conn:
        for r in conn.execute(select(case_notes).where(case_notes.c.case_id.in_(case_ids))
                              .order_by(case_notes.c.case_id, case_notes.c.id)):
            found[r.case_id].append(CaseNote(r.author, r.at, r.note))
    return found


def _visible(actor: Actor):  # type: ignore[no-untyped-def]
    """Cases the actor may see: every case for staff, their own account's for a user."""
    query = select(cases, accounts.c.address).join(accounts, accounts.c.id == cases.c.account_id)
    if not actor.is_staff:
        query = query.where(cases.c.account_id == (actor.account_id or -1))
    return query


def _of(r) -> Case:  # type: ignore[no-untyped-def]
    return Case(r.id, r.address, r.protocol, "on" if r.want else "off", r.status, r.note,
                r.opened_by, r.decided_by, r.expires_at)


def list_cases(svc: Service, actor: Actor, address: str | None = None) -> list[Case]:
    """The cases the actor may see, oldest first (of one account)."""
    query = _visible(actor).order_by(cases.c.id)
    if address is not None:
        query = query.where(accounts.c.address == normalise_address(address))
    with svc.reader.connect() as conn:
        rows = conn.execute(query).all()
    return [_of(r) for r in rows]


def get_case(svc: Service, actor: Actor, case_id: int) -> Case:
    """One case the actor may see (another account's case is not found for a user)."""
    with svc.reader.connect() as conn:
        row = conn.execute(_visible(actor).where(cases.c.id == case_id)).first()
    if row is None:
        raise NotFound(f"no case #{case_id}")
    return _of(row)
