"""Request bodies and the shapes of answers, as the OpenAPI document shows them.

Fields carry the CLI's names (`value` on|off, `reason`, `note`, `for`, `existing`,
`dry_run`); what the text may contain is checked by the service functions, so a refusal
reads as the CLI's. Unknown fields are refused (422).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mailgate.mail_auth.dkimkeys import DEFAULT_SELECTOR

Text = Annotated[str, Field(max_length=4096)]
Name = Annotated[str, Field(max_length=254)]
Duration = Annotated[str, Field(max_length=32, description="e.g. 90s, 15m, 12h, 7d",
                                examples=["7d"])]
Identifier = Annotated[int, Field(ge=1, le=2**31 - 1)]
OnOff = Literal["on", "off"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"address": "bob@example.test", "password": "a long passphrase", "department": "Physics"}]})

    address: Name
    password: Text | None = Field(None, description="Omit for an account without one yet.")
    name: Text = ""
    department: Name | None = None
    plan: Name = "standard"
    pending: bool = False


class NewPassword(Body):
    password: Text


class Compromise(Body):
    reason: Text


class Restore(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"password": "a brand new passphrase", "note": "verified by a video call"}]})

    password: Text
    note: Text = Field(description="Who verified the owner's identity, and how.")


class Deactivate(Body):
    now: bool = Field(False, description="Skip the grace period.")


class ProtocolSet(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"value": "on", "reason": "approved by phone", "for": "7d"}]})

    value: OnOff
    reason: Text = ""
    for_: Duration | None = Field(None, alias="for", description="Only for this long.")


class DepartmentCreate(Body):
    name: Name


class DepartmentPolicy(Body):
    value: Literal["deny", "inherit"]


class PlanSet(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"value": "off", "existing": "keep", "dry_run": True}]})

    value: OnOff
    existing: Literal["keep", "follow"] | None = None
    dry_run: bool = False


class RoleGrant(Body):
    role: Literal["helpdesk", "admin", "dept-admin"]
    department: Name | None = None


class CaseOpen(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"account": "alice@example.test", "protocol": "pop", "want": "on",
         "note": "needs POP for an old phone"}]})

    account: Name
    protocol: Name
    want: OnOff
    note: Text


class CaseNote(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "called back: the old phone only speaks POP"}]})

    note: Text


class CaseApprove(Body):
    for_: Duration | None = Field(None, alias="for", description="Time-limited; reverts "
                                                                 "itself.")


class AppPasswordCreate(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"protocols": ["imap", "smtp"], "label": "phone", "expires": "90d"}]})

    protocols: Annotated[list[Name], Field(min_length=1, max_length=6)]
    label: Text = ""
    expires: Duration | None = None
    networks: Annotated[list[Name], Field(max_length=64)] = []


class TokenIssue(Body):
    protocols: Annotated[list[Name], Field(max_length=6)] = []
    lifetime: Duration | None = None
    staff: bool = Field(False, description="also act in this admin API (scope "
                                           "mailgate.admin), within the account's staff roles")


class RecoverRestore(Body):
    all: bool = False
    ids: Annotated[list[Identifier], Field(max_length=5000)] = []


class ApiKeyCreate(Body):
    account: Name
    label: Text = ""
    expires: Duration | None = None


class Door(BaseModel):
    enabled: bool
    reason: str
    detail: str
    locked: bool
    source: str
    served: bool


class AccountShow(BaseModel):
    address: str
    name: str
    state: str
    department: str | None
    plan: str
    roles: list[str]
    protocols: dict[str, Door]


class AccountListed(BaseModel):
    address: str
    name: str
    state: str
    plan: str
    department: str | None


class DoorDecision(BaseModel):
    account: str
    protocol: str
    enabled: bool
    reason: str
    detail: str
    locked: bool
    source: str


class PasswordChanged(BaseModel):
    address: str
    live_sessions_ended: int


class PlanChange(BaseModel):
    plan: str
    protocol: str
    old: bool
    new: bool
    affected: int
    used_last_90_days: int
    applied: bool
    existing: str | None
    summary: str


class CaseShown(BaseModel):
    id: int
    account: str
    protocol: str
    want: str
    status: str
    note: str
    opened_by: str
    decided_by: str | None
    expires_at: float | None


class AppPasswordShown(BaseModel):
    id: int
    label: str
    protocols: list[str]
    networks: list[str]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    status: str


class AppPasswordMade(AppPasswordShown):
    secret: str = Field(description="Shown only in this answer.")


class TokenIssued(BaseModel):
    token: str
    token_type: str
    jti: str
    address: str
    scope: str
    expires_at: float


class Recoverable(BaseModel):
    id: int
    folder: str
    subject: str
    deleted_at: float


class Restored(BaseModel):
    address: str
    restored: int


class AuditVerified(BaseModel):
    intact: bool
    entries: int
    problems: list[str]


class UsageRow(BaseModel):
    account: str
    protocol: str
    method: str
    successes: int
    failures: int
    last_success_at: str | None
    last_attempt_at: str | None


class LiveSessionShown(BaseModel):
    id: str
    account: str
    protocol: str
    method: str
    peer: str
    client: str | None = None  # the mail app, as it names itself (IMAP ID); None if unknown
    node: str
    started_at: str


class ApiKeyShown(BaseModel):
    id: int
    account: str
    label: str
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    status: str


class ApiKeyMade(ApiKeyShown):
    secret: str = Field(description="Shown only in this answer.")


class Roles(BaseModel):
    """An account and its roles (`role` the one its limits follow)."""

    address: str
    role: str
    roles: list[str]


class EndedSession(BaseModel):
    id: str
    account: str
    protocol: str
    ended: bool


class OAuthClientAdd(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Mail sync service", "public": False,
         "redirect_uris": ["https://sync.example.test/callback"], "scopes": ["mail.imap"]}]})

    name: Name
    redirect_uris: Annotated[list[Annotated[str, Field(max_length=2000)]],
                             Field(max_length=16)] = Field(
        [], description="Matched exactly; none for a device-flow-only client.")
    public: bool = Field(True, description="false: a confidential client, given a secret.")
    scopes: Annotated[list[Name], Field(max_length=16)] = Field(
        [], description="Omit for every scope the server knows.")


class OAuthClientShown(BaseModel):
    client_id: str
    name: str
    redirect_uris: list[str]
    type: Literal["public", "confidential"]
    scopes: list[str]
    created_at: float


class OAuthClientMade(OAuthClientShown):
    client_secret: str | None = Field(description="A confidential client's secret, shown "
                                                  "only in this answer; null when public.")


class QueuedRecipient(BaseModel):
    address: str
    state: str
    attempts: int
    next_attempt_at: str
    last_error: str


class QueueEntry(BaseModel):
    id: str
    sender: str
    size: int
    queued_at: str
    recipients: list[QueuedRecipient]


class QueueRetried(BaseModel):
    id: str | None = Field(description="null when every queued message was retried")
    recipients: int


class DkimGenerate(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"domain": "example.test", "selector": "mg2"}]})

    domain: Name
    selector: Annotated[str, Field(max_length=253)] = DEFAULT_SELECTOR


class DkimRecord(BaseModel):
    """The TXT record to publish; the private key never leaves the server."""

    domain: str
    selector: str
    name: str = Field(description="SELECTOR._domainkey.DOMAIN")
    value: str = Field(description="v=DKIM1; k=rsa; p=...")
    record: str = Field(description="The zone-file line `mailgate dkim generate` prints.")
# --- sign-in rules, sending limits, MFA, DNS (methods set, network set, plan sending, mfa, dns)

#: a sign-in method: password, app_password, oauth (the service names unknown ones)
Method = Annotated[str, Field(max_length=32)]
#: a sending limit: a whole number, or `none` (or null) for no limit
SendingLimit = Annotated[int, Field(strict=True)] | Literal["none"] | None


class MethodsSet(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"methods": ["app_password", "oauth"]}, {"methods": "all"}]})

    methods: Annotated[list[Method], Field(max_length=8)] | Literal["all"] = Field(
        description="The methods the door accepts; `all` lifts the rule.")


class MethodsRule(BaseModel):
    scope: str
    name: str
    protocol: str
    methods: list[str] | Literal["all"]


class NetworkSet(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"networks": ["10.0.0.0/8", "192.0.2.0/24"]}, {"networks": []}]})

    networks: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=64)] = \
        Field(description="CIDR networks; none: sign-ins from anywhere.")


class NetworkRule(BaseModel):
    protocol: str
    networks: list[str]


class PlanSending(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"messages_per_hour": 50, "recipients_per_hour": "none", "sent_copy": False}]})

    messages_per_hour: SendingLimit = Field(None, description="Omitted: unchanged; a number "
                                                              "or `none` (null): no limit.")
    recipients_per_hour: SendingLimit = Field(None, description="As `messages_per_hour`, "
                                                                "every recipient counted.")
    sent_copy: bool | None = Field(None, description="false: no copy in Sent. Omitted "
                                                     "(or null): unchanged.")


class PlanSendingShown(BaseModel):
    plan: str
    messages_per_hour: int | None
    recipients_per_hour: int | None
    sent_copy: bool


class MfaRequire(Body):
    value: OnOff


class MfaRequired(BaseModel):
    scope: str
    name: str
    required: bool
    changed: bool


class MfaAuthenticator(BaseModel):
    id: int
    label: str
    created_at: float
    last_used_at: float | None


class MfaStatus(BaseModel):
    address: str
    required: bool
    required_by: list[str]
    methods: list[str]
    must_enrol: bool
    totp_confirmed_at: float | None
    webauthn: list[MfaAuthenticator]
    recovery_codes_left: int


class MfaReset(Body):
    reason: Text = Field(description="Who asked, and how their identity was checked.")


class MfaRemoved(BaseModel):
    address: str
    removed: dict[str, int]


class DnsRecord(BaseModel):
    name: str
    type: Literal["SRV", "CNAME"]
    target: str
    priority: int | None = None
    weight: int | None = None
    port: int | None = None
    door: str | None = None
