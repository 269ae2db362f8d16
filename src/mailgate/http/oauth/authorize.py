"""`/oauth/authorize`: the authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636).

The client and redirect URI are checked first, and a problem with either is shown on an
error page: the browser is never sent to a URI the client did not register (exact match).
Every later problem goes back to the client as `error=...`. A user not signed in is sent to
`/signin` and back; a signed-in one sees the consent page (client name, doors asked for),
whose form (CSRF-checked) repeats the request, which is checked again before a code is made.
PKCE S256 is required of public clients and checked whenever a challenge was sent; `plain`
is not accepted.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.directory import oauth_clients, oauth_grants
from mailgate.directory.changes import record
from mailgate.directory.oauth_clients import Client
from mailgate.http import csrf
from mailgate.http.oauth import scopes
from mailgate.http.oauth.errors import redirect
from mailgate.http.oauth.provider import Provider, user_actor
from mailgate.http.pages import error_page, render
from mailgate.http.signin import sign_in_redirect
from mailgate.http.websession import WebAccount

#: a PKCE code challenge or verifier (RFC 7636 §4.1-4.2)
PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
MAX_PARAM = 2048
FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
          "code_challenge", "code_challenge_method")


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    scopes: frozenset[str]
    state: str
    nonce: str | None
    code_challenge: str | None

    def fields(self, params: Mapping[str, str]) -> list[tuple[str, str]]:
        """The request again, as the consent form's hidden fields."""
        return [(name, params[name]) for name in FIELDS if params.get(name)]


@dataclass(frozen=True)
class Invalid:
    """A request that cannot go back to the client: shown on an error page."""

    detail: str


@dataclass(frozen=True)
class Refused:
    """A request refused back to the client's redirect URI (RFC 6749 §4.1.2.1)."""

    redirect_uri: str
    error: str
    description: str
    state: str


def _param(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    return value if len(value) <= MAX_PARAM else ""


def parse(provider: Provider, params: Mapping[str, str]
          ) -> AuthorizationRequest | Invalid | Refused:
    with provider.svc.reader.connect() as conn:
        client = oauth_clients.find(conn, _param(params, "client_id"))
    if client is None:
        return Invalid("This application is not known here (unknown client_id).")
    asked_uri = _param(params, "redirect_uri")
    if asked_uri:
        if asked_uri not in client.redirect_uris:
            return Invalid(f"{client.name} asked to send you to an address it has not "
                           "registered (redirect_uri), so you are not sent there.")
        redirect_uri = asked_uri
    elif len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    else:
        return Invalid(f"{client.name} did not say where to send you back (redirect_uri).")
    state = _param(params, "state")

    def refused(error: str, description: str) -> Refused:
        return Refused(redirect_uri, error, description, state)

    if params.get("response_type") != "code":
        return refused("unsupported_response_type", "only response_type=code is served")
    asked = scopes.requested(_param(params, "scope"), client)
    if asked is None:
        return refused("invalid_scope", f"the scopes this client may ask for: "
                                        f"{' '.join(sorted(client.scopes))}")
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or ("plain" if challenge else None)
    if challenge is not None and (method != "S256" or not PKCE_VALUE.fullmatch(challenge)):
        return refused("invalid_request", "PKCE: code_challenge_method must be S256, with a "
                                          "43 to 128 character challenge")
    if challenge is None and not client.confidential:
        return refused("invalid_request", "PKCE is required: send code_challenge with "
                                          "code_challenge_method=S256")
    nonce = _param(params, "nonce") or None
    return AuthorizationRequest(client, redirect_uri, asked, state, nonce, challenge)


def routes(provider: Provider) -> list[Route]:
    def back(request: Request, found: Refused) -> Response:
        params = {"error": found.error, "error_description": found.description,
                  "iss": provider.issuer}
        if found.state:
            params["state"] = found.state
        return redirect(found.redirect_uri, params)

    async def checked(request: Request, params: Mapping[str, str]
                      ) -> AuthorizationRequest | Response:
        found = await asyncio.to_thread(parse, provider, params)
        if isinstance(found, Invalid):
            return error_page(request, 400, "Cannot continue", found.detail)
        if isinstance(found, Refused):
            return back(request, found)
        return found

    async def ask(request: Request) -> Response:
        params = dict(request.query_params)
        found = await checked(request, params)
        if isinstance(found, Response):
            return found
        account = await provider.sessions.signed_in(request)
        if account is None:
            return sign_in_redirect(request)
        return consent_page(request, found.client, found.scopes, account,
                            found.fields(params), "/oauth/authorize")

    async def answer(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=16)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", "The form expired or did not come "
                              "from this site. Go back, reload the page and try again.")
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        found = await checked(request, params)
        if isinstance(found, Response):
            return found
        account = await provider.sessions.signed_in(request)
        if account is None:
            return error_page(request, 403, "Signed out", "Your sign-in ended; start again "
                              "from the application.")
        if params.get("decision") != "allow":
            return back(request, Refused(found.redirect_uri, "access_denied",
                                         "the user did not allow it", found.state))
        code = await asyncio.to_thread(_new_code, provider, found, account)
        if code is None:
            return error_page(request, 403, "Signed out", "Your account cannot sign in now.")
        params = {"code": code, "iss": provider.issuer}
        if found.state:
            params["state"] = found.state
        return redirect(found.redirect_uri, params)

    return [Route("/oauth/authorize", ask, methods=["GET"]),
            Route("/oauth/authorize", answer, methods=["POST"])]


def consent_page(request: Request, client: Client, asked: frozenset[str],
                 account: WebAccount, fields: list[tuple[str, str]], action: str) -> Response:
    """Allow or deny: the client's name and, in words, what it asks for."""
    return render(request, "consent.html", client_name=client.name, address=account.address,
                  asked=scopes.in_words(asked), fields=fields, action=action)


def _new_code(provider: Provider, found: AuthorizationRequest, account: WebAccount
              ) -> str | None:
    svc = provider.svc
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = provider.active_account(conn, account.account_id)
        if row is None:
            return None
        code = oauth_grants.new_code(
            conn, provider.mac, now, client_id=found.client.client_id, account_id=row.id,
            redirect_uri=found.redirect_uri, scope=" ".join(sorted(found.scopes)),
            nonce=found.nonce, code_challenge=found.code_challenge,
            auth_time=account.auth_time)
        record(conn, now, user_actor(row), "oauth.consent", account=row.address, scope="none",
               client_id=found.client.client_id, client=found.client.name,
               scopes=sorted(found.scopes))
    return code
