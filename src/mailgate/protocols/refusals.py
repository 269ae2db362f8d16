"""ONE table: a refusal turned into each protocol's words (SPEC §5).

Every door renders refusals from here and nowhere else. Adding a reason means adding a row to
`TITLES` (or nothing, when the reason is a closed door). POP3 texts must never contain the
letters l-o-c-k except with [IN-USE]: fetchmail reads them as a mailbox-lock conflict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mailgate.policy.decision import Decision

#: reason code -> title shown to clients; every other deny reason is "ProtocolDisabled".
TITLES: dict[str, str] = {"modern_auth_required": "ModernAuthRequired",
                          "password_changed": "PasswordChanged",
                          "credential_revoked": "CredentialRevoked",
                          "session_ended": "SessionEnded",
                          "signed_out": "SignedOut"}

FETCHMAIL_WORD = re.compile("l(?=ock)", re.IGNORECASE)
BAD_CREDENTIALS = "Authentication failed: the address or password is wrong."
PRIVACY_REQUIRED = "Password sign-in requires TLS: use STLS/STARTTLS or the TLS port."


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in or a live session is refused: bad credentials, or a closed door."""

    kind: str  # credentials | door | privacy
    decision: Decision | None = None

    @property
    def title(self) -> str:
        assert self.decision is not None
        return TITLES.get(self.decision.reason, "ProtocolDisabled")

    @property
    def text(self) -> str:
        """'<Title>: <explanation>' for a closed door."""
        assert self.decision is not None
        return f"{self.title}: {_one_line(self.decision.detail)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def imap(refusal: Refusal) -> str:
    """The tagged NO text (without the tag)."""
    if refusal.kind == "credentials":
        return f"NO [AUTHENTICATIONFAILED] {BAD_CREDENTIALS}"
    if refusal.kind == "privacy":
        return f"NO [PRIVACYREQUIRED] {PRIVACY_REQUIRED}"
    return f"NO [CONTACTADMIN] {refusal.text}"


def imap_bye(decision: Decision) -> str:
    return f"* BYE [CONTACTADMIN] {Refusal('door', decision).text}"


def pop3(refusal: Refusal) -> str:
    """The -ERR line; a name such as "Blockchain Lab" in it becomes "Bl-ockchain Lab"."""
    if refusal.kind == "credentials":
        return f"-ERR [AUTH] {BAD_CREDENTIALS}"
    if refusal.kind == "privacy":
        return f"-ERR [AUTH] {PRIVACY_REQUIRED}"
    return FETCHMAIL_WORD.sub(lambda match: f"{match[0]}-", f"-ERR [SYS/PERM] {refusal.text}")


def smtp(refusal: Refusal) -> str:
    if refusal.kind == "credentials":
        return f"535 5.7.8 {BAD_CREDENTIALS}"
    if refusal.kind == "privacy":
        return "538 5.7.11 Encryption required for requested authentication mechanism"
    return f"535 5.7.139 {refusal.text}"


def smtp_closed(decision: Decision) -> str:
    return f"421 4.7.0 {Refusal('door', decision).text}"


def oauth_status(refusal: Refusal) -> str:
    """The `status` of an OAUTHBEARER/XOAUTH2 error challenge (RFC 7628 §3.2.2, RFC 6750
    codes): a token that is not good, or a good one that does not open this door."""
    return "invalid_token" if refusal.kind == "credentials" else "insufficient_scope"


def http_problem(refusal: Refusal) -> tuple[int, dict[str, object]]:
    """(status, application/problem+json body) for the web, api and dav doors."""
    if refusal.kind in ("credentials", "privacy"):
        return 401, {"title": "AuthenticationFailed", "detail": BAD_CREDENTIALS}
    assert refusal.decision is not None
    return 403, {
        "type": "about:blank",
        "title": refusal.title,
        "status": 403,
        "reason": refusal.decision.reason,
        "protocol": refusal.decision.protocol,
        "detail": _one_line(refusal.decision.detail),
    }


def http_problem_json(refusal: Refusal) -> tuple[int, bytes]:
    status, body = http_problem(refusal)
    return status, json.dumps(body).encode()
