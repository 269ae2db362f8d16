"""The device authorization grant (RFC 8628): a mail client or script without a browser asks
`/oauth/device_authorization` for a code, shows the user the short code and `/device`, and
polls the token endpoint; the user signs in on any browser, types the code, sees the consent
page and allows or denies. Codes live 10 minutes; polling faster than `interval` gets
`slow_down`."""

from __future__ import annotations

import asyncio

from sqlalchemy import Row
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgate.directory import oauth_clients, oauth_grants
from mailgate.directory.changes import record
from mailgate.http import csrf
from mailgate.http.oauth import clientauth, scopes
from mailgate.http.oauth.authorize import consent_page
from mailgate.http.oauth.errors import NO_STORE, invalid_client, json_error, with_query
from mailgate.http.oauth.provider import Provider, user_actor
from mailgate.http.pages import error_page, render
from mailgate.http.signin import sign_in_redirect
from mailgate.http.websession import WebAccount

NOT_FOUND = "That code is not known or has expired: check the code on your device."


def routes(provider: Provider) -> list[Route]:
    async def authorization(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        client = await clientauth.authenticate(provider, request, form)
        if client is None:
            return invalid_client()
        asked = scopes.requested(str(form.get("scope", "")), client)
        if asked is None:
            return json_error("invalid_scope", f"the scopes this client may ask for: "
                                               f"{' '.join(sorted(client.scopes))}")
        made = await asyncio.to_thread(_new, provider, client.client_id, asked)
        page = provider.url("/device")
        return JSONResponse({"device_code": made.device_code, "user_code": made.user_code,
                             "verification_uri": page,
                             "verification_uri_complete": with_query(
                                 page, {"user_code": made.user_code}),
                             "expires_in": made.expires_in, "interval": made.interval},
                            headers=NO_STORE)

    async def entry(request: Request) -> Response:
        account = await provider.sessions.signed_in(request)
        if account is None:
            return sign_in_redirect(request)
        typed = request.query_params.get("user_code", "")
        if not typed:
            return render(request, "device.html", address=account.address, user_code="",
                          error="")
        return await _consent(request, account, typed)

    async def submit(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", "The form expired or did not come "
                              "from this site. Go back, reload the page and try again.")
        account = await provider.sessions.signed_in(request)
        if account is None:
            return sign_in_redirect(request)
        typed, decision = str(form.get("user_code", "")), form.get("decision")
        if decision is None:
            return await _consent(request, account, typed)
        settled = await asyncio.to_thread(_settle, provider, typed, account, decision == "allow")
        if settled is None:
            return render(request, "device.html", 400, address=account.address,
                          user_code=typed[:32], error=NOT_FOUND)
        if decision != "allow":
            return render(request, "done.html", title="Not connected",
                          detail=f"{settled} was not given access. You can close this page.")
        return render(request, "done.html", title="Device connected",
                      detail=f"{settled} now has access. Go back to your device; you can "
                             "close this page.")

    async def _consent(request: Request, account: WebAccount, typed: str) -> Response:
        found = await asyncio.to_thread(_pending, provider, typed)
        if found is None:
            return render(request, "device.html", 400, address=account.address,
                          user_code=typed[:32], error=NOT_FOUND)
        client, asked = found
        return consent_page(request, client, asked, account,
                            [("user_code", oauth_grants.normalised_user_code(typed))],
                            "/device")

    return [Route("/oauth/device_authorization", authorization, methods=["POST"]),
            Route("/device", entry, methods=["GET"]),
            Route("/device", submit, methods=["POST"])]


def _new(provider: Provider, client_id: str, asked: frozenset[str]
         ) -> oauth_grants.DeviceCode:
    with provider.svc.engine.begin() as conn:
        return oauth_grants.new_device_code(conn, provider.mac, provider.svc.clock(),
                                            client_id, " ".join(sorted(asked)))


def _pending(provider: Provider, typed: str
             ) -> tuple[oauth_clients.Client, frozenset[str]] | None:
    with provider.svc.reader.connect() as conn:
        row = oauth_grants.pending_device_code(conn, provider.mac, typed, provider.svc.clock())
        client = oauth_clients.find(conn, row.client_id) if row is not None else None
    if row is None or client is None:
        return None
    return client, frozenset(row.scope.split())


def _settle(provider: Provider, typed: str, account: WebAccount, approved: bool) -> str | None:
    """The client's name once the user's answer is stored, else None."""
    now = provider.svc.clock()
    with provider.svc.engine.begin() as conn:
        row: Row | None = oauth_grants.pending_device_code(conn, provider.mac, typed, now)
        user = provider.active_account(conn, account.account_id)
        if row is None or user is None:
            return None
        client = oauth_clients.find(conn, row.client_id)
        if client is None or not oauth_grants.settle_device_code(
                conn, row.device_code_hash, user.id, approved, account.auth_time):
            return None
        record(conn, now, user_actor(user), "oauth.device." + ("allow" if approved else "deny"),
               account=user.address, scope="none", client_id=client.client_id,
               client=client.name, scopes=row.scope.split())
    return client.name
