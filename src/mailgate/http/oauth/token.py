"""`/oauth/token`: authorization codes (with their PKCE verifier), refresh tokens (rotated on
every use; a replayed one revokes its whole family and the access tokens it issued) and device
codes (RFC 8628 §3.4). Every answer carries `Cache-Control: no-store`."""

from __future__ import annotations

import asyncio
import hmac

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import Connection, Row, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgate.db.schema import accounts
from mailgate.directory import oauth_grants, tokens
from mailgate.directory.changes import record
from mailgate.directory.oauth_clients import Client
from mailgate.http.oauth import clientauth
from mailgate.http.oauth.authorize import PKCE_VALUE
from mailgate.http.oauth.errors import NO_STORE, invalid_client, json_error
from mailgate.http.oauth.issuing import Grant, issue
from mailgate.http.oauth.provider import Provider, user_actor

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
MAX_FIELD = 4096


class GrantError(Exception):
    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error, self.description = error, description


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_FIELD else ""


def routes(provider: Provider) -> list[Route]:
    grants = {"authorization_code": _code, "refresh_token": _refresh, DEVICE_CODE: _device}

    async def token(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=16)
        client = await clientauth.authenticate(provider, request, form)
        if client is None:
            return invalid_client()
        grant = grants.get(_field(form, "grant_type"))
        if grant is None:
            return json_error("unsupported_grant_type",
                              "grant_type: authorization_code, refresh_token or " + DEVICE_CODE)
        try:
            body = await asyncio.to_thread(grant, provider, client, form)
        except GrantError as error:
            return json_error(error.error, error.description)
        return JSONResponse(body, headers=NO_STORE)

    return [Route("/oauth/token", token, methods=["POST"])]


def _code(provider: Provider, client: Client, form: FormData) -> dict[str, object]:
    svc = provider.svc
    with svc.engine.begin() as conn:  # a code is used up even by a failed exchange
        row = oauth_grants.take_code(conn, provider.mac, _field(form, "code"), svc.clock())
        problem = _code_problem(row, client, form)
        account = provider.active_account(conn, row.account_id) \
            if row is not None and problem is None else None
        if row is not None and account is not None:
            return issue(provider, conn, account,
                         Grant(client.client_id, frozenset(row.scope.split()), row.auth_time,
                               row.nonce), "authorization_code")
    raise GrantError("invalid_grant", problem or "the account cannot sign in")


def _code_problem(row: Row | None, client: Client, form: FormData) -> str | None:
    """Why this code cannot be exchanged by this request, or None."""
    if row is None or row.client_id != client.client_id:
        return "the code is not valid (used, expired or for another client)"
    asked_uri, verifier = _field(form, "redirect_uri"), _field(form, "code_verifier")
    if asked_uri and asked_uri != row.redirect_uri:
        return "redirect_uri differs from the authorization request's"
    if row.code_challenge is not None:
        if not PKCE_VALUE.fullmatch(verifier) or not hmac.compare_digest(
                create_s256_code_challenge(verifier), row.code_challenge):
            return "PKCE verification failed"
    elif verifier:
        return "no code_challenge was sent for this code"
    return None


def _refresh(provider: Provider, client: Client, form: FormData) -> dict[str, object]:
    svc = provider.svc
    now = svc.clock()
    presented = _field(form, "refresh_token")
    with svc.engine.begin() as conn:
        found = oauth_grants.use_refresh_token(conn, provider.mac, presented, client.client_id,
                                               now) if presented else None
        if found is None or found.family is None:
            raise GrantError("invalid_grant", "the refresh token is not valid")
        family = found.family
        if found.replayed:
            _revoke_replayed_family(provider, conn, family, now)
        else:
            account = provider.active_account(conn, family.account_id)
            if account is None:
                raise GrantError("invalid_grant", "the account cannot sign in")
            granted = frozenset(family.scope.split())
            narrowed = frozenset(_field(form, "scope").split()) or granted
            if not narrowed <= granted:
                raise GrantError("invalid_scope", "a refresh cannot add scopes")
            return issue(provider, conn, account,
                         Grant(client.client_id, narrowed | {"offline_access"},
                               family.auth_time, family_id=family.family_id),
                         "refresh_token")
    # the family's revocation is committed: only now refuse
    raise GrantError("invalid_grant", "the refresh token was already used; every token of "
                                      "this grant is revoked")


def _revoke_replayed_family(provider: Provider, conn: Connection, family: Row,
                            now: float) -> None:
    """A rotated refresh token came back: someone holds a copy. Revoke every refresh token
    of the family and the access tokens it issued; the account event ends their sessions."""
    ids = oauth_grants.revoke_family(conn, family.family_id, now)
    tokens.revoke_ids(conn, family.account_id, ids, now)
    account = conn.execute(select(accounts).where(accounts.c.id == family.account_id)).one()
    record(conn, now, user_actor(account), "oauth.refresh.replay", account=account.address,
           account_id=account.id, client_id=family.client_id, access_tokens_revoked=len(ids))


def _device(provider: Provider, client: Client, form: FormData) -> dict[str, object]:
    svc = provider.svc
    device_code = _field(form, "device_code")
    with svc.engine.begin() as conn:
        found = oauth_grants.poll_device_code(conn, provider.mac, device_code, client.client_id,
                                              svc.clock()) if device_code else "invalid_grant"
        if isinstance(found, str):
            error = found
        else:
            account = provider.active_account(conn, found.account_id)
            if account is not None:
                return issue(provider, conn, account,
                             Grant(client.client_id, frozenset(found.scope.split()),
                                   found.auth_time), DEVICE_CODE)
            error = "access_denied"
    raise GrantError(error)
