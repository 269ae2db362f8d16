"""Opening and closing doors: per account, per department, per plan (SPEC §3-4)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from mailgate.db.schema import (
    account_settings,
    accounts,
    department_denials,
    departments,
    method_rules,
    network_rules,
    plan_defaults,
    plans,
    temporary_grants,
    usage,
)
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record, transaction
from mailgate.directory.errors import (
    Conflict,
    DirectoryError,
    NotAllowed,
    NotFound,
    RecordedRefusal,
)
from mailgate.directory.notes import bounded
from mailgate.directory.views import account_row, department_id, policy_view, require_plain
from mailgate.policy.catalogue import PROTOCOLS, normalise_method, normalise_protocol
from mailgate.policy.decision import Decision, PolicyView, decide
from mailgate.service import Service

NINETY_DAYS = 90 * 86400
EXFILTRATION_DOORS = frozenset({"imap", "pop"})


def check_department_lock(conn: Connection, now: float, actor: Actor, row: Row, protocol: str,
                          enabled: bool, refused_action: str, **details: Any) -> PolicyView:
    """The account's policy view, once sure the change does not open a door its department
    denies; a refused attempt is audited as `refused_action` (kept by `changes.transaction`)."""
    view = policy_view(conn, row, now)
    try:
        authority.require_department_allows(view.department, view.department_denials, protocol,
                                            enabled)
    except NotAllowed as refusal:
        record(conn, now, actor, refused_action, account=row.address, scope="none",
               protocol=protocol, department=view.department, want="on", **details)
        raise RecordedRefusal(str(refusal)) from None
    return view


def apply_account_setting(conn: Connection, svc: Service, actor: Actor, row_id: int,
                          protocol: str, enabled: bool, *, seconds: int | None = None,
                          case_id: int | None = None, reason: str = "") -> Decision:
    """Write an account-level value (or a temporary grant) with audit, event and alert;
    returns the door's decision afterwards. Run it inside `changes.transaction`."""
    now = svc.clock()
    row = conn.execute(select(accounts).where(accounts.c.id == row_id)).one()
    view = check_department_lock(conn, now, actor, row, protocol, enabled, "protocol.set.refused",
                                 case=case_id, reason=reason, expires_in=seconds)
    before = decide(view, protocol, now)
    if seconds:
        conn.execute(delete(temporary_grants).where(temporary_grants.c.account_id == row_id,
                                                    temporary_grants.c.protocol == protocol))
        conn.execute(temporary_grants.insert().values(
            account_id=row_id, protocol=protocol, enabled=enabled, expires_at=now + seconds,
            case_id=case_id, set_by=actor.address))
    else:
        conn.execute(delete(temporary_grants).where(temporary_grants.c.account_id == row_id,
                                                    temporary_grants.c.protocol == protocol))
        conn.execute(delete(account_settings).where(account_settings.c.account_id == row_id,
                                                    account_settings.c.protocol == protocol))
        conn.execute(account_settings.insert().values(
            account_id=row_id, protocol=protocol, enabled=enabled,
            source="case" if case_id else "account", case_id=case_id, set_by=actor.address,
            set_at=now))
    after = decide(policy_view(conn, row, now), protocol, now)
    record(conn, now, actor, "protocol.set", account=row.address, account_id=row_id,
           protocol=protocol, case=case_id, reason=reason, expires_in=seconds,
           before={"enabled": before.allowed, "reason": before.reason},
           after={"enabled": after.allowed, "reason": after.reason})
    if enabled and not before.allowed and after.allowed and protocol in EXFILTRATION_DOORS \
            and case_id is None:
        record(conn, now, actor, "alert.door_reopened", account=row.address, scope="none",
               protocol=protocol,
               detail=f"{protocol} re-opened outside an approved case (a known exfiltration "
                      "step): review this change")
    return after


def set_protocol(svc: Service, actor: Actor, address: str, protocol: str, enabled: bool,
                 reason: str = "", seconds: int | None = None) -> Decision:
    """Open or close one door of one account; returns the door's decision afterwards."""
    protocol = normalise_protocol(protocol)
    require_plain(reason, "reason")
    authority.require_protocol_change(actor, address, protocol, enabled, svc.restricted)
    bounded(reason, "--reason")
    with transaction(svc.engine) as conn:
        row = account_row(conn, address)
        authority.require_not_self(actor, row.id)
        return apply_account_setting(conn, svc, actor, row.id, protocol, enabled,
                                     seconds=seconds, reason=reason)


def create_department(svc: Service, actor: Actor, name: str) -> None:
    authority.require_admin(actor, "create departments")
    name = require_plain(name.strip(), "department name")
    if not name or len(name) > 128:
        raise DirectoryError("a department needs a name of 1 to 128 characters")
    with svc.engine.begin() as conn:
        if conn.execute(select(departments.c.id).where(departments.c.name == name)).first():
            raise Conflict(f"department '{name}' already exists")
        conn.execute(departments.insert().values(name=name))
        record(conn, svc.clock(), actor, "department.create", scope="none", department=name)


def set_department_policy(svc: Service, actor: Actor, name: str, protocol: str,
                          deny: bool) -> None:
    protocol = normalise_protocol(protocol)
    with svc.engine.begin() as conn:
        dept = department_id(conn, name)
        authority.require_department_policy(actor, name, dept)
        denied = conn.execute(select(department_denials).where(
            department_denials.c.department_id == dept,
            department_denials.c.protocol == protocol)).first() is not None
        if deny and not denied:
            conn.execute(department_denials.insert().values(department_id=dept,
                                                            protocol=protocol))
        elif not deny and denied:
            conn.execute(delete(department_denials).where(
                department_denials.c.department_id == dept,
                department_denials.c.protocol == protocol))
        record(conn, svc.clock(), actor, "department.policy", scope="department", scope_id=dept,
               department=name, protocol=protocol,
               before="deny" if denied else "inherit", after="deny" if deny else "inherit")


@dataclass(frozen=True)
class PlanChange:
    """What `plan set` would do to existing accounts, reported before anything changes."""

    plan: str
    protocol: str
    old: bool
    new: bool
    affected: int  # accounts whose value comes from the plan default
    used_recently: int  # of those, how many used this door in the last 90 days
    applied: bool = False
    existing: str | None = None

    def summary(self) -> str:
        on = {True: "on", False: "off"}
        if self.old == self.new:
            return f"plan {self.plan}: {self.protocol} is already {on[self.new]} by default"
        return (f"plan {self.plan}: {self.protocol} default {on[self.old]} -> {on[self.new]}. "
                f"{self.affected} existing account(s) take {self.protocol} from the plan default "
                f"({self.used_recently} used it in the last 90 days). "
                f"--existing follow changes all {self.affected} to {on[self.new]}; "
                f"--existing keep changes none (each keeps {on[self.old]} as an account "
                "setting).")


def _ensure_plan(conn: Connection, name: str) -> int:
    found = conn.execute(select(plans.c.id).where(plans.c.name == name)).scalar()
    if found is not None:
        return int(found)
    if not name.strip() or len(name) > 64:
        raise DirectoryError("a plan needs a name of 1 to 64 characters")
    new_id = int(conn.execute(plans.insert().values(name=name)).inserted_primary_key[0])
    conn.execute(insert(plan_defaults), [
        {"plan_id": new_id, "protocol": p, "enabled": p != "pop"} for p in PROTOCOLS])
    return new_id


def plan_set(svc: Service, actor: Actor, plan: str, protocol: str, enabled: bool,
             existing: str | None = None, dry_run: bool = False) -> PlanChange:
    protocol = normalise_protocol(protocol)
    authority.require_admin(actor, "change plan defaults")
    if existing not in (None, "keep", "follow"):
        raise DirectoryError("--existing takes keep or follow")
    now = svc.clock()
    with svc.engine.begin() as conn:
        if dry_run and conn.execute(select(plans.c.id).where(plans.c.name == plan)).first() \
                is None:
            raise NotFound(f"no plan '{plan}' (plan set without --dry-run creates it)")
        pid = _ensure_plan(conn, plan)
        old = bool(conn.execute(select(plan_defaults.c.enabled).where(
            plan_defaults.c.plan_id == pid, plan_defaults.c.protocol == protocol)).scalar())
        following = select(accounts.c.id).where(
            accounts.c.plan_id == pid,
            ~select(account_settings.c.account_id).where(
                account_settings.c.account_id == accounts.c.id,
                account_settings.c.protocol == protocol).exists())
        ids = [r for r in conn.execute(following).scalars()] if old != enabled else []
        recent = conn.execute(select(func.count(func.distinct(usage.c.account_id))).where(
            usage.c.account_id.in_(following.scalar_subquery()), usage.c.protocol == protocol,
            usage.c.last_success_at >= now - NINETY_DAYS)).scalar() if ids else 0
        change = PlanChange(plan, protocol, old, enabled, len(ids), int(recent or 0))
        if dry_run:
            return change
        if ids and existing is None:
            raise Conflict(change.summary() + " Choose --existing keep or --existing "
                                 "follow (or --dry-run to only see this).")
        if existing == "keep" and ids:
            conn.execute(insert(account_settings), [
                {"account_id": i, "protocol": protocol, "enabled": old, "source": "plan_change",
                 "case_id": None, "set_by": actor.address, "set_at": now} for i in ids])
        conn.execute(update(plan_defaults).where(and_(
            plan_defaults.c.plan_id == pid, plan_defaults.c.protocol == protocol)).values(
            enabled=enabled))
        record(conn, now, actor, "plan.set", scope="plan", scope_id=pid, plan=plan,
               protocol=protocol, before=old, after=enabled, existing=existing,
               affected=len(ids), kept=len(ids) if existing == "keep" else 0)
        return PlanChange(plan, protocol, old, enabled, len(ids), int(recent or 0), True,
                          existing)


def set_methods(svc: Service, actor: Actor, scope: str, name: str, protocol: str,
                methods: list[str] | None) -> list[str] | None:
    """Which sign-in methods a door accepts for a plan, department or account (None: all);
    the methods set, by their catalogue names (None: all)."""
    protocol = normalise_protocol(protocol)
    chosen = sorted({normalise_method(m) for m in methods}) if methods is not None else None
    if chosen is not None and not chosen:
        raise DirectoryError("name at least one method (password, app_password, oauth)")
    with svc.engine.begin() as conn:
        if scope == "plan":
            authority.require_admin(actor, "change a plan's sign-in methods")
            scope_id = conn.execute(select(plans.c.id).where(plans.c.name == name)).scalar()
            if scope_id is None:
                raise NotFound(f"no plan '{name}'")
        elif scope == "department":
            scope_id = department_id(conn, name)
            authority.require_department_policy(actor, name, scope_id)
        elif scope == "account":
            authority.require_admin(actor, "change an account's sign-in methods")
            row = account_row(conn, name)
            scope_id, name = row.id, row.address  # the audit names it as it is stored
        else:
            raise DirectoryError("scope is plan, department or account")
        conn.execute(delete(method_rules).where(
            method_rules.c.scope == scope, method_rules.c.scope_id == scope_id,
            method_rules.c.protocol == protocol))
        if chosen is not None:
            conn.execute(method_rules.insert().values(scope=scope, scope_id=scope_id,
                                                      protocol=protocol,
                                                      methods=",".join(chosen)))
        record(conn, svc.clock(), actor, "methods.set", scope=scope, scope_id=scope_id,
               account=name if scope == "account" else None,
               account_id=scope_id if scope == "account" else None,
               target=name, protocol=protocol, methods=chosen or "all")
    return chosen


def set_networks(svc: Service, actor: Actor, protocol: str, networks: list[str]) -> list[str]:
    """The client networks a door accepts sign-ins from (empty: anywhere); those set, in
    their normal form (`10.0.0.0/8`)."""
    protocol = normalise_protocol(protocol)
    authority.require_admin(actor, "restrict a door to networks")
    try:
        parsed = [str(ipaddress.ip_network(n.strip(), strict=False)) for n in networks
                  if n.strip()]
    except ValueError as exc:
        raise DirectoryError(f"invalid network: {exc}") from None
    with svc.engine.begin() as conn:
        conn.execute(delete(network_rules).where(network_rules.c.protocol == protocol))
        if parsed:
            conn.execute(network_rules.insert().values(protocol=protocol,
                                                       networks=",".join(parsed)))
        record(conn, svc.clock(), actor, "networks.set", scope="all", protocol=protocol,
               networks=parsed or "anywhere")
    return parsed
