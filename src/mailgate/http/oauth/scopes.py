"""The scopes a client asks for: checked against what it is registered for, and said in
words on the consent page."""

from __future__ import annotations

from mailgate.directory.oauth_clients import Client

WORDS = {
    "mail.imap": "Read and manage your mail (IMAP)",
    "mail.pop": "Download your mail (POP3)",
    "mail.smtp": "Send mail as you (SMTP)",
    "openid": "Know who you are when you sign in",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Keep this access until you take it back (refresh tokens)",
    "mailgate.admin": "Act for you in the mail service's admin API, within your staff role",
}


def requested(raw: str, client: Client) -> frozenset[str] | None:
    """The scopes asked for, or None when there are none or one the client may not have."""
    asked = frozenset(raw.split())
    if not asked or not asked <= client.scopes:
        return None
    return asked


def in_words(scopes: frozenset[str]) -> list[str]:
    return [WORDS[s] for s in WORDS if s in scopes]
