"""Who may change what (SPEC §4): one place that checks an actor's roles before any change.

Roles: every account is a `user`; staff roles are `helpdesk`, `admin` (the mail team) and
`dept-admin` of one department. The built-in `system` operator is an admin.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from mailgate.directory.errors import NotAllowed
from mailgate.policy.catalogue import DISPLAY

STAFF_ROLES = ("helpdesk", "admin", "dept-admin")
SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who is acting: the system operator, or an account with its roles."""

    address: str
    account_id: int | None
    roles: frozenset[tuple[str, int | None]]  # (role, department id for dept-admin)

    @classmethod
    def system(cls) -> Actor:
        return cls(SYSTEM, None, frozenset({("admin", None)}))

    @classmethod
    def itself(cls, address: str, account_id: int) -> Actor:
        """An account acting on its own behalf (signed in to the web pages)."""
        return cls(address, account_id, frozenset())

    def has(self, role: str) -> bool:
        return any(r == role for r, _ in self.roles)

    @property
    def is_admin(self) -> bool:
        return self.has("admin")

    @property
    def is_staff(self) -> bool:
        return self.is_admin or self.has("helpdesk")

    def administers(self, department_id: int | None) -> bool:
        return department_id is not None and ("dept-admin", department_id) in self.roles

    @property
    def role_name(self) -> str:
        if self.address == SYSTEM:
            return "system"
        for role in ("admin", "helpdesk", "dept-admin"):
            if self.has(role):
                return role
        return "user"


def _refuse(message: str) -> None:
    raise NotAllowed(message)


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        _refuse(f"only the mail team (admin) can {what}")


def require_staff(actor: Actor, what: str) -> None:
    if not actor.is_staff:
        _refuse(f"only the help desk or the mail team can {what}")


def require_view(actor: Actor, account_id: int, what: str = "view this account") -> None:
    if actor.is_staff or actor.account_id == account_id:
        return
    _refuse(f"only the account's owner, the help desk or the mail team can {what}")


def require_protocol_change(actor: Actor, address: str, protocol: str, enabled: bool,
                            restricted: frozenset[str]) -> None:
    """helpdesk: any door off, unrestricted doors on; admin: everything."""
    if actor.is_admin:
        return
    name = DISPLAY[protocol]
    on_off = "on" if enabled else "off"
    if actor.has("helpdesk"):
        if not enabled or protocol not in restricted:
            return
        _refuse(f"only the mail team can enable {name}; escalate a case: "
                f"mailgate case open {address} {protocol} on --note TEXT")
    _refuse(f"only the help desk or the mail team can turn {name} {on_off}; request it with: "
            f"mailgate case open {address} {protocol} {on_off} --note TEXT")


def require_department_allows(department: str | None, denied: frozenset[str], protocol: str,
                              enabled: bool) -> None:
    """Not even an admin opens, on one account, a door its department denies (SPEC §3-4):
    only a change of the department's policy can. Closing it stays allowed."""
    if not enabled or department is None or protocol not in denied:
        return
    _refuse(f"{DISPLAY[protocol]} is denied by the policy of department {department}, which no "
            f"account setting overrides; a dept-admin of {department} or the mail team can lift "
            f"it: mailgate department policy {shlex.quote(department)} {protocol} inherit")


def require_department_policy(actor: Actor, department: str, department_id: int) -> None:
    if actor.is_admin or actor.administers(department_id):
        return
    _refuse(f"only the mail team or a dept-admin of {department} can change its policy")


def require_case_open(actor: Actor, account_id: int, address: str) -> None:
    if actor.is_staff or actor.account_id == account_id:
        return
    _refuse(f"only {address} themselves, the help desk or the mail team can open a case for it")


def require_not_self(actor: Actor, target_id: int) -> None:
    """Staff may not open or approve doors on their own account (admins excepted)."""
    if actor.account_id == target_id and not actor.is_admin:
        _refuse("staff cannot change their own account's doors; ask a colleague")


def require_mfa_reset(actor: Actor, target_id: int) -> None:
    """The help desk and the mail team remove another account's second factors; only an
    admin their own (a stolen staff password must not be enough to remove its MFA)."""
    require_staff(actor, "reset an account's MFA")
    if actor.account_id == target_id and not actor.is_admin:
        _refuse("staff cannot reset their own account's MFA; ask a colleague")
