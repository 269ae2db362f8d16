"""THE access decision as a pure function (SPEC §3): data in, Decision out.

Precedence, first match wins: account state, department denial, temporary grant, account
setting, plan default. For an allowed door, the sign-in method and client network are then
checked, and for a live password session whether the password changed since it signed in.
The same function answers `account show` and every live sign-in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailgate.policy.catalogue import DISPLAY, METHODS

STATE_REASONS = {
    "compromised": "account_compromised",
    "deactivating": "account_deactivating",
    "deactivated": "account_deactivated",
    "pending": "services_not_activated",
}

METHOD_NAMES = {"password": "password", "app_password": "an app password", "oauth": "OAuth"}


@dataclass(frozen=True)
class Setting:
    """An explicit per-account value for one door."""

    enabled: bool
    case_id: int | None = None
    expires_at: float | None = None  # only for temporary grants


@dataclass(frozen=True)
class PolicyView:
    """Everything the decision needs to know about one account, loaded once."""

    address: str
    state: str
    plan: str
    plan_defaults: dict[str, bool]
    department: str | None = None
    department_denials: frozenset[str] = frozenset()
    settings: dict[str, Setting] = field(default_factory=dict)
    grants: dict[str, Setting] = field(default_factory=dict)
    methods: dict[str, frozenset[str]] = field(default_factory=dict)
    networks: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = field(
        default_factory=dict
    )
    credential_epoch: int = 0  # bumped by every password, compromise, restore, deactivation
    signed_out_epoch: int | None = None  # the epoch the owner last signed out everywhere at


@dataclass(frozen=True)
class Decision:
    """allow | deny(reason), with a sentence a person can act on and the rule that decided."""

    protocol: str
    allowed: bool
    reason: str
    detail: str
    source: str  # state | department | case | account | plan | method | network | credential
    # | staff (a session ended by hand)
    locked: bool = False


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _door_decision(view: PolicyView, protocol: str, now: float) -> Decision:
    name = DISPLAY[protocol]
    reason = STATE_REASONS.get(view.state)
    if reason == "account_compromised":
        return Decision(protocol, False, reason,
                        f"{name} is turned off because this account was marked compromised. "
                        "Contact the help desk to verify your identity and restore access.",
                        "state", True)
    if reason == "account_deactivating":
        return Decision(protocol, False, reason,
                        f"{name} is turned off because this account is being deactivated. "
                        "Contact the help desk if this is a mistake.", "state", True)
    if reason == "account_deactivated":
        return Decision(protocol, False, reason,
                        f"{name} is turned off because this account has been deactivated. "
                        "Contact the help desk if this is a mistake.", "state", True)
    if reason == "services_not_activated":
        return Decision(protocol, False, reason,
                        f"{name} is not available because the mail services of this account "
                        "have not been activated yet. Contact the help desk to activate them.",
                        "state", True)
    if protocol in view.department_denials:
        return Decision(protocol, False, "department_policy",
                        f"{name} is turned off for this account by the policy of department "
                        f"{view.department}. Contact the help desk.", "department", True)
    grant = view.grants.get(protocol)
    if grant is not None and grant.expires_at is not None and grant.expires_at > now:
        until = _when(grant.expires_at)
        if grant.enabled:
            detail = f"{name} is turned on for this account until {until} (temporary grant)."
        else:
            detail = (f"{name} is turned off for this account until {until}. "
                      "Contact the help desk.")
        return Decision(protocol, grant.enabled, "temporary_grant", detail,
                        "case" if grant.case_id else "account")
    setting = view.settings.get(protocol)
    if setting is not None:
        by = f"approved case #{setting.case_id}" if setting.case_id else "the mail team"
        if setting.enabled:
            detail = f"{name} is turned on for this account by {by}."
        else:
            detail = (f"{name} is turned off for this account by {by}. "
                      "Contact the help desk to request access.")
        return Decision(protocol, setting.enabled, "account_setting", detail,
                        "case" if setting.case_id else "account")
    enabled = view.plan_defaults.get(protocol, protocol != "pop")
    if enabled:
        detail = f"{name} is on by default for accounts on plan {view.plan}."
    else:
        detail = (f"{name} is off by default for accounts on plan {view.plan}. "
                  "Contact the help desk to request access.")
    return Decision(protocol, enabled, "plan_default", detail, "plan")


def decide(
    view: PolicyView,
    protocol: str,
    now: float,
    method: str | None = None,
    peer: str | None = None,
    signed_in_epoch: int | None = None,
) -> Decision:
    """Decide one door for one account; with method/peer, for one sign-in attempt; with the
    credential epoch a live session signed in at, for that session."""
    door = _door_decision(view, protocol, now)
    if not door.allowed:
        return door
    name = DISPLAY[protocol]
    if signed_in_epoch is not None and view.signed_out_epoch is not None \
            and signed_in_epoch < view.signed_out_epoch:
        # any credential: the owner asked for every session to end, app passwords' too
        return Decision(protocol, False, "signed_out",
                        f"You signed out everywhere, which ends this {name} session; "
                        "sign in again.", "credential")
    if method in ("password", "oauth") and signed_in_epoch is not None \
            and signed_in_epoch != view.credential_epoch:
        # a token session too: the token came from a sign-in with the old password, and
        # the change revoked every token of the account (`directory.accounts.set_password`)
        return Decision(protocol, False, "password_changed",
                        f"The password of this account was changed, which ends this {name} "
                        "session; sign in again with the new password.", "credential")
    if method is not None:
        allowed = view.methods.get(protocol, frozenset(METHODS))
        if method not in allowed:
            ways = " or ".join(METHOD_NAMES[m] for m in METHODS if m in allowed)
            step = f"sign in with {ways} instead." if ways else "contact the help desk."
            return Decision(protocol, False, "modern_auth_required",
                            f"{name} does not accept {METHOD_NAMES[method]} sign-in for this "
                            f"account; {step}", "method")
    if peer is not None and view.networks.get(protocol):
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            address = None
        if address is None or not any(address in net for net in view.networks[protocol]):
            return Decision(protocol, False, "network_not_allowed",
                            f"{name} is only available from the organisation's allowed "
                            "networks. Connect from there or contact the help desk.", "network")
    return door


def credential_revoked(protocol: str, method: str) -> Decision:
    """The deny for a live session whose own app password or token was revoked."""
    what = "app password" if method == "app_password" else "access token"
    return Decision(protocol, False, "credential_revoked",
                    f"The {what} this {DISPLAY[protocol]} session signed in with was revoked, "
                    "which ends the session; sign in again with a valid credential.",
                    "credential")


def session_ended(protocol: str) -> Decision:
    """The deny for a live session that a member of staff ended."""
    return Decision(protocol, False, "session_ended",
                    f"A member of staff ended this {DISPLAY[protocol]} session. Sign in again, "
                    "or contact the help desk.", "staff")
