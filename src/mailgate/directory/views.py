"""Read side of the directory: accounts, their policy views and their decisions."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sqlalchemy import Connection, Row, and_, bindparam, or_, select

from mailgate.db.schema import (
    account_settings,
    accounts,
    department_denials,
    departments,
    method_rules,
    network_rules,
    plan_defaults,
    plans,
    roles,
    temporary_grants,
)
from mailgate.directory import mfa_state
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed, NotFound
from mailgate.directory.mfa_state import MfaStatus
from mailgate.policy.catalogue import METHODS, PROTOCOLS, SERVED
from mailgate.policy.decision import Decision, PolicyView, Setting, decide
from mailgate.safetext import first_unsafe, visible

ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def normalise_address(address: str) -> str:
    address = address.strip().lower()
    if len(address) > 254 or not ADDRESS.match(address) or ".." in address:
        raise DirectoryError(f"invalid address '{address}': expected local-part@domain")
    return address


def require_plain(value: str, what: str) -> str:
    """Refuse text that would be stored with a control character (it could drive a
    terminal or forge a log line wherever it is shown later)."""
    char = first_unsafe(value)
    if char is not None:
        raise DirectoryError(f"the {what} contains a control character ({visible(char)}): "
                             "use plain text")
    return value


def effective_state(row: Row, now: float) -> str:
    """A deactivating account whose grace has ended is deactivated, without any job running."""
    if row.state == "deactivating" and row.deactivate_at is not None and row.deactivate_at <= now:
        return "deactivated"
    return str(row.state)


_ACCOUNT_BY_ADDRESS = select(accounts).where(accounts.c.address == bindparam("address"))


def account_row(conn: Connection, address: str) -> Row:
    address = normalise_address(address)
    row = conn.execute(_ACCOUNT_BY_ADDRESS, {"address": address}).first()
    if row is None:
        raise NotFound(f"no account {address}")
    return row


def active_account(conn: Connection, address: str, now: float) -> Row:
    """The account, which must be active: a closed one (compromised, pending, deactivating,
    deactivated) signs in nowhere, so it enrols and checks no second factor either."""
    row = account_row(conn, address)
    state = effective_state(row, now)
    if state != "active":
        raise NotAllowed(f"{row.address} is {state}: it cannot sign in")
    return row


def find_account(conn: Connection, address: str) -> Row | None:
    try:
        return conn.execute(
            select(accounts).where(accounts.c.address == normalise_address(address))
        ).first()
    except DirectoryError:
        return None


def department_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(departments.c.id).where(departments.c.name == name)).scalar()
    if found is None:
        raise NotFound(f"no department '{name}': create it with 'mailgate department create "
                       f"{name}'")
    return int(found)


def plan_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(plans.c.id).where(plans.c.name == name)).scalar()
    if found is None:
        raise NotFound(f"no plan '{name}'")
    return int(found)


def _networks(conn: Connection) -> dict[str, tuple]:  # type: ignore[type-arg]
    out: dict[str, tuple] = {}  # type: ignore[type-arg]
    for row in conn.execute(select(network_rules)):
        out[row.protocol] = tuple(ipaddress.ip_network(n, strict=False)
                                  for n in row.networks.split(",") if n)
    return out


def _methods(conn: Connection, row: Row) -> dict[str, frozenset[str]]:
    """Allowed sign-in methods per door: the intersection over plan, department and account."""
    scopes = [and_(method_rules.c.scope == "plan", method_rules.c.scope_id == row.plan_id),
              and_(method_rules.c.scope == "account", method_rules.c.scope_id == row.id)]
    if row.department_id is not None:
        scopes.append(and_(method_rules.c.scope == "department",
                           method_rules.c.scope_id == row.department_id))
    allowed = {p: frozenset(METHODS) for p in PROTOCOLS}
    for rule in conn.execute(select(method_rules.c.protocol, method_rules.c.methods)
                             .where(or_(*scopes))):
        allowed[rule.protocol] = allowed[rule.protocol] & frozenset(rule.methods.split(","))
    return allowed


def policy_view(conn: Connection, row: Row, now: float) -> PolicyView:
    """Everything `decide` needs for one account, in six indexed queries."""
    plan_name, defaults = "", {}
    for r in conn.execute(select(plans.c.name, plan_defaults.c.protocol, plan_defaults.c.enabled)
                          .join(plan_defaults, plan_defaults.c.plan_id == plans.c.id)
                          .where(plans.c.id == row.plan_id)):
        plan_name, defaults[r.protocol] = r.name, bool(r.enabled)
    dept_name, denials = None, set()
    if row.department_id is not None:
        for r in conn.execute(select(departments.c.name, department_denials.c.protocol)
                              .outerjoin(department_denials,
                                         department_denials.c.department_id == departments.c.id)
                              .where(departments.c.id == row.department_id)):
            dept_name = r.name
            if r.protocol:
                denials.add(r.protocol)
    settings = {r.protocol: Setting(bool(r.enabled), r.case_id) for r in conn.execute(
        select(account_settings.c.protocol, account_settings.c.enabled,
               account_settings.c.case_id).where(account_settings.c.account_id == row.id))}
    grants = {r.protocol: Setting(bool(r.enabled), r.case_id, r.expires_at) for r in conn.execute(
        select(temporary_grants.c.protocol, temporary_grants.c.enabled,
               temporary_grants.c.case_id, temporary_grants.c.expires_at)
        .where(temporary_grants.c.account_id == row.id, temporary_grants.c.expires_at > now))}
    return PolicyView(
        address=row.address, state=effective_state(row, now), plan=plan_name,
        plan_defaults=defaults, department=dept_name, department_denials=frozenset(denials),
        settings=settings, grants=grants, methods=_methods(conn, row), networks=_networks(conn),
        credential_epoch=row.credential_epoch, signed_out_epoch=row.signed_out_epoch,
    )


@dataclass(frozen=True)
class AccountReport:
    """`account show`: who the account is and, for every door, the decision and its reason."""

    address: str
    name: str
    state: str
    department: str | None
    plan: str
    decisions: dict[str, Decision]
    roles: list[str]
    mfa: MfaStatus

    def as_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "name": self.name,
            "state": self.state,
            "department": self.department,
            "plan": self.plan,
            "roles": self.roles,
            "mfa": self.mfa.as_json(),
            "protocols": {
                p: {"enabled": d.allowed, "reason": d.reason, "detail": d.detail,
                    "locked": d.locked, "source": d.source, "served": p in SERVED}
                for p, d in self.decisions.items()
            },
        }


def role_names(conn: Connection, account_id: int) -> list[str]:
    out = []
    for r in conn.execute(select(roles.c.role, departments.c.name).select_from(
            roles.outerjoin(departments, roles.c.department_id == departments.c.id)).where(
            roles.c.account_id == account_id)):
        out.append(f"{r.role}:{r.name}" if r.name else r.role)
    return sorted(out)


def report(conn: Connection, row: Row, now: float) -> AccountReport:
    view = policy_view(conn, row, now)
    return AccountReport(
        address=row.address, name=row.name, state=view.state, department=view.department,
        plan=view.plan, decisions={p: decide(view, p, now) for p in PROTOCOLS},
        roles=role_names(conn, row.id), mfa=mfa_state.status(conn, row),
    )


def load_actor(conn: Connection, address: str | None) -> Actor:
    """The actor for `--as ADDRESS` (or the system operator); staff must be active."""
    if address is None:
        return Actor.system()
    row = account_row(conn, address)
    if row.state != "active":
        raise DirectoryError(f"{row.address} is {row.state} and cannot act on anything")
    granted = frozenset((r.role, r.department_id) for r in conn.execute(
        select(roles).where(roles.c.account_id == row.id)))
    return Actor(row.address, row.id, granted)
