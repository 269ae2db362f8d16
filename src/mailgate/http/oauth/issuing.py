"""A grant turned into tokens, in the grant's own transaction: an access token (the doors'
JWT, `auth.tokens`), a refresh token in the grant's family when `offline_access` was granted,
and an ID token when `openid` was. Each issue is audited (`oauth.token`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row

from mailgate.auth.id_tokens import issue_id_token
from mailgate.directory import oauth_grants
from mailgate.directory.changes import record
from mailgate.http.oauth.provider import Provider, user_actor


@dataclass(frozen=True)
class Grant:
    """What the user allowed: for which client, which scopes, signed in when."""

    client_id: str
    scopes: frozenset[str]
    auth_time: float
    nonce: str | None = None
    family_id: str | None = None  # a refresh grant continues its family


def issue(provider: Provider, conn: Connection, account: Row, grant: Grant, grant_type: str
          ) -> dict[str, object]:
    """The token response body (RFC 6749 §5.1)."""
    svc = provider.svc
    now = svc.clock()
    lifetime = svc.settings.seconds("auth", "token_lifetime")
    token, claims = svc.tokens.issue(account.address, grant.scopes, lifetime,
                                     client_id=grant.client_id)
    body: dict[str, object] = {"access_token": token, "token_type": "Bearer",
                               "expires_in": lifetime, "scope": " ".join(sorted(grant.scopes))}
    if "offline_access" in grant.scopes:
        family = grant.family_id or oauth_grants.new_family(
            conn, now, client_id=grant.client_id, account_id=account.id,
            scope=" ".join(sorted(grant.scopes)), auth_time=grant.auth_time)
        body["refresh_token"] = oauth_grants.new_refresh_token(
            conn, provider.mac, now, family, claims.token_id,
            svc.settings.seconds("auth", "refresh_token_lifetime"))
    if "openid" in grant.scopes:
        body["id_token"] = issue_id_token(
            svc.tokens, client_id=grant.client_id, subject=account.address, name=account.name,
            scopes=grant.scopes, auth_time=grant.auth_time, nonce=grant.nonce, now=now)
    record(conn, now, user_actor(account), "oauth.token", account=account.address,
           scope="none", grant_type=grant_type, client_id=grant.client_id,
           token_id=claims.token_id, scopes=sorted(grant.scopes),
           expires_at=claims.expires_at, refresh_token="refresh_token" in body)
    return body
