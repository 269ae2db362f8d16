"""Revocation (RFC 7009), introspection (RFC 7662) and userinfo (OIDC Core §5.3).

A client revokes its own tokens: a refresh token takes its whole family (and the access tokens
it issued) with it, an access token goes on the revocation list; either way an account event
ends the sessions it opened within a second. An unknown or foreign token is answered 200 all
the same (RFC 7009 §2.2). Only confidential clients may introspect.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection, Row, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgate.auth.id_tokens import user_claims
from mailgate.auth.tokens import AccessToken, TokenRejected
from mailgate.db.schema import accounts
from mailgate.directory import oauth_grants, tokens
from mailgate.directory.changes import record
from mailgate.directory.oauth_clients import Client
from mailgate.http.oauth import clientauth
from mailgate.http.oauth.errors import NO_STORE, invalid_client
from mailgate.http.oauth.provider import Provider, user_actor

MAX_TOKEN = 8192
INACTIVE = {"active": False}


def routes(provider: Provider) -> list[Route]:
    async def revoke(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        client = await clientauth.authenticate(provider, request, form)
        if client is None:
            return invalid_client()
        token = form.get("token")
        if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
            await asyncio.to_thread(_revoke, provider, client, token)
        return Response(status_code=200, headers=NO_STORE)

    async def introspect(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        client = await clientauth.authenticate(provider, request, form, confidential_only=True)
        if client is None:
            return invalid_client()
        token = form.get("token")
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            return JSONResponse(INACTIVE, headers=NO_STORE)
        return JSONResponse(await asyncio.to_thread(_introspect, provider, token),
                            headers=NO_STORE)

    async def userinfo(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        found = await asyncio.to_thread(_live_access_token, provider, token.strip()) \
            if scheme.lower() == "bearer" and token else None
        if found is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={
                **NO_STORE, "WWW-Authenticate": 'Bearer error="invalid_token"'})
        claims, account = found
        if "openid" not in claims.scopes:
            return JSONResponse({"error": "insufficient_scope"}, status_code=403, headers={
                **NO_STORE, "WWW-Authenticate": 'Bearer error="insufficient_scope", '
                                                'scope="openid"'})
        return JSONResponse({"sub": account.address,
                             **user_claims(account.address, account.name, claims.scopes)},
                            headers=NO_STORE)

    return [Route("/oauth/revoke", revoke, methods=["POST"]),
            Route("/oauth/introspect", introspect, methods=["POST"]),
            Route("/oauth/userinfo", userinfo, methods=["GET", "POST"])]


def _account(conn: Connection, account_id: int) -> Row:
    return conn.execute(select(accounts).where(accounts.c.id == account_id)).one()


def _revoke(provider: Provider, client: Client, token: str) -> None:
    svc = provider.svc
    now = svc.clock()
    with svc.engine.begin() as conn:
        refresh = oauth_grants.refresh_token_row(conn, provider.mac, token)
        if refresh is not None:
            if refresh.client_id != client.client_id:
                return
            ids = oauth_grants.revoke_family(conn, refresh.family_id, now)
            tokens.revoke_ids(conn, refresh.account_id, ids, now)
            account = _account(conn, refresh.account_id)
            record(conn, now, user_actor(account), "oauth.revoke", account=account.address,
                   account_id=account.id, client_id=client.client_id,
                   token_type="refresh_token", access_tokens_revoked=len(ids))
            return
        try:
            claims = svc.tokens.claims(token)
        except TokenRejected:
            return
        if claims.client_id != client.client_id:
            return
        account = conn.execute(select(accounts).where(
            accounts.c.address == claims.subject)).first()
        if account is None:
            return
        tokens.revoke_ids(conn, account.id, [claims.token_id], now)
        record(conn, now, user_actor(account), "oauth.revoke", account=account.address,
               account_id=account.id, client_id=client.client_id, token_type="access_token",
               token_id=claims.token_id)


def _live_access_token(provider: Provider, token: str) -> tuple[AccessToken, Row] | None:
    """A valid, unrevoked access token and its account, while that account is active."""
    try:
        claims = provider.svc.tokens.claims(token)
    except TokenRejected:
        return None
    with provider.svc.reader.connect() as conn:
        row = conn.execute(select(accounts.c.id).where(
            accounts.c.address == claims.subject)).first()
        account = provider.active_account(conn, row.id) if row is not None else None
        if account is None or tokens.is_revoked(conn, account.id, claims):
            return None
    return claims, account


def _introspect(provider: Provider, token: str) -> dict[str, object]:
    found = _live_access_token(provider, token)
    if found is not None:
        claims, account = found
        return {"active": True, "token_type": "access_token", "scope": " ".join(
            sorted(claims.scopes)), "client_id": claims.client_id, "username": account.address,
            "sub": account.address, "aud": provider.svc.tokens.audience,
            "iss": provider.issuer, "exp": claims.expires_at, "iat": claims.issued_at,
            "jti": claims.token_id}
    now = provider.svc.clock()
    with provider.svc.reader.connect() as conn:
        refresh = oauth_grants.refresh_token_row(conn, provider.mac, token)
        if refresh is None or refresh.revoked_at is not None or \
                refresh.rotated_at is not None or refresh.expires_at <= now:
            return INACTIVE
        account = provider.active_account(conn, refresh.account_id)
    if account is None:
        return INACTIVE
    return {"active": True, "token_type": "refresh_token", "scope": refresh.scope,
            "client_id": refresh.client_id, "username": account.address,
            "sub": account.address, "iss": provider.issuer, "exp": int(refresh.expires_at),
            "iat": int(refresh.issued_at)}
