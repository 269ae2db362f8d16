"""OAuth clients registered by the operator (`mailgate oauth client add|list|remove`).

A client has a name shown on the consent page, the exact redirect URIs it may use, the scopes
it may ask for, and is either public (a mail app on a device: PKCE instead of a secret) or
confidential (a server: a secret, shown once and stored as its keyed hash). Only the mail
team registers and removes clients; every change is audited.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, delete, select

from mailgate.auth.tokens import STAFF_SCOPE
from mailgate.db.schema import oauth_clients
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError, NotFound
from mailgate.directory.views import require_plain
from mailgate.service import Service

#: every scope the server knows: one per mail door, OpenID Connect's, and the admin API's
SCOPES = ("mail.imap", "mail.pop", "mail.smtp", "openid", "profile", "email",
          "offline_access", STAFF_SCOPE)
#: what a client is registered for unless told: everything but the admin API
DEFAULT_SCOPES = tuple(s for s in SCOPES if s != STAFF_SCOPE)
MAX_NAME = 128
MAX_URI = 2000


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    confidential: bool
    scopes: frozenset[str]
    created_at: float

    def as_json(self) -> dict[str, object]:
        return {"client_id": self.client_id, "name": self.name,
                "redirect_uris": list(self.redirect_uris),
                "type": "confidential" if self.confidential else "public",
                "scopes": sorted(self.scopes), "created_at": self.created_at}


def _of(row: Row) -> Client:
    return Client(row.client_id, row.name, tuple(u for u in row.redirect_uris.split("\n") if u),
                  row.confidential, frozenset(row.scopes.split()), row.created_at)


def _checked_redirect_uri(uri: str) -> str:
    """An absolute URI without a fragment (RFC 6749 §3.1.2): https, http on loopback (RFC 8252
    §7.3), or a private-use scheme of a native app (`com.example.app:/callback`)."""
    parts = urlsplit(uri)
    if not uri or len(uri) > MAX_URI or parts.fragment or not parts.scheme or \
            any(c.isspace() or ord(c) < 0x20 for c in uri):
        raise DirectoryError(f"invalid redirect URI {uri!r}: an absolute URI, no fragment")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise DirectoryError(f"invalid redirect URI {uri!r}: http only on loopback; use https")
    if parts.scheme in ("https", "http") and not parts.hostname:
        raise DirectoryError(f"invalid redirect URI {uri!r}: no host")
    return uri


def add(svc: Service, actor: Actor, name: str, redirect_uris: Iterable[str], confidential: bool,
        scopes: Iterable[str] = DEFAULT_SCOPES) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (confidential clients; shown once)."""
    authority.require_admin(actor, "register OAuth clients")
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise DirectoryError(f"a client name is 1 to {MAX_NAME} characters")
    require_plain(name, "client name")
    uris = [_checked_redirect_uri(u.strip()) for u in redirect_uris]
    wanted = sorted({s for scope in scopes for s in scope.split()})
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise DirectoryError(f"unknown scope {unknown[0]!r}; known: {' '.join(SCOPES)}")
    if not wanted:
        raise DirectoryError("a client needs at least one scope")
    client_id = secrets.token_hex(12)
    secret = secrets.token_hex(32) if confidential else None
    now = svc.clock()
    with svc.engine.begin() as conn:
        conn.execute(oauth_clients.insert().values(
            client_id=client_id, name=name, redirect_uris="\n".join(uris),
            confidential=confidential,
            secret_hash=svc.app_secret_key.mac(secret) if secret else None,
            scopes=" ".join(wanted), created_at=now))
        record(conn, now, actor, "oauth.client.add", scope="none", client_id=client_id,
               name=name, redirect_uris=uris, scopes=wanted,
               type="confidential" if confidential else "public")
    return Client(client_id, name, tuple(uris), confidential, frozenset(wanted), now), secret


def list_all(svc: Service, actor: Actor) -> list[Client]:
    authority.require_admin(actor, "list OAuth clients")
    with svc.reader.connect() as conn:
        return [_of(r) for r in conn.execute(select(oauth_clients).order_by(
            oauth_clients.c.created_at))]


def remove(svc: Service, actor: Actor, client_id: str) -> None:
    """Remove a client with its codes and refresh tokens (its access tokens expire)."""
    authority.require_admin(actor, "remove OAuth clients")
    now = svc.clock()
    with svc.engine.begin() as conn:
        found = find(conn, client_id)
        if found is None:
            raise NotFound(f"no OAuth client {client_id}")
        conn.execute(delete(oauth_clients).where(oauth_clients.c.client_id == client_id))
        record(conn, now, actor, "oauth.client.remove", scope="none", client_id=client_id,
               name=found.name)


def find(conn: Connection, client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    row = conn.execute(select(oauth_clients).where(
        oauth_clients.c.client_id == client_id)).first()
    return _of(row) if row is not None else None


def check_secret(svc: Service, conn: Connection, client_id: str, secret: str) -> bool:
    """Whether `secret` is this confidential client's secret (compared as keyed hashes)."""
    stored = conn.execute(select(oauth_clients.c.secret_hash).where(
        oauth_clients.c.client_id == client_id)).scalar()
    return bool(stored) and hmac.compare_digest(stored, svc.app_secret_key.mac(secret))
