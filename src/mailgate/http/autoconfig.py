"""Client autoconfiguration over HTTP: Thunderbird's autoconfig document
(`/.well-known/autoconfig/mail/config-v1.1.xml`, `/mail/config-v1.1.xml`) and Microsoft
Autodiscover POX (`POST /autodiscover/autodiscover.xml`), each offering only open doors.

Thunderbird's request carries no credentials, so it is always answered for a new account on
the default plan, whatever `emailaddress` says: the same bytes for an unknown address as for
any known one, so the answer tells nobody whether an account exists or how its doors differ.
Autodiscover answers the same way without credentials (the request's address echoed as the
login name); with HTTP Basic credentials, checked like the sign-in page (`Gate.sign_in_page`:
throttled, audited with client id `autodiscover`), it answers for that account's open doors,
and wrong credentials (or an account that cannot sign in) get 401 whether or not the account
exists; credentials over plain http off loopback get 403. A request that is not a
small, well-formed POX request (no DTD, no entities) gets 400 and a fixed message."""

from __future__ import annotations

import asyncio
import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.auth.gate import Gate, Principal
from mailgate.clientconfig import autodiscover, thunderbird
from mailgate.clientconfig.endpoints import Endpoint, offered
from mailgate.service import Service

XML = "application/xml; charset=utf-8"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
MAX_CREDENTIAL = 1024


def _basic(request: Request) -> tuple[str, str] | bool | None:
    """(user, password) from `Authorization: Basic`, None without it, False when malformed."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 4 * MAX_CREDENTIAL:
        return False
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return (user, password) if sep and user and password else False


def routes(svc: Service, gate: Gate) -> list[Route]:
    async def thunderbird_config(_request: Request) -> Response:
        found = await _offered(None)
        body = thunderbird.config_xml(str(svc.settings.get("server", "domain")), found)
        return Response(body, media_type=XML, headers=NO_STORE)

    async def _offered(account_id: int | None) -> list[Endpoint]:
        return await asyncio.to_thread(offered, svc, account_id)

    def _unauthorised() -> Response:
        return Response(autodiscover.error_xml(401, "Unauthorized"), status_code=401,
                        media_type=XML, headers={
                            **NO_STORE, "WWW-Authenticate": 'Basic realm="autodiscover"'})

    async def autodiscover_pox(request: Request) -> Response:
        try:
            address = autodiscover.parse_request(await request.body())
        except autodiscover.BadRequest as exc:
            return Response(autodiscover.error_xml(600, f"Invalid Request: {exc}"),
                            status_code=400, media_type=XML, headers=NO_STORE)
        credentials = _basic(request)
        account_id = None
        if credentials is False:
            return _unauthorised()
        if credentials is not None:
            user, password = credentials
            peer = request.client.host if request.client else ""
            result = await gate.sign_in_page(user[:MAX_CREDENTIAL], password[:MAX_CREDENTIAL],
                                             peer, tls=request.url.scheme == "https",
                                             client_id="autodiscover")
            if not isinstance(result, Principal):
                if result.kind == "privacy":
                    return Response(autodiscover.error_xml(403, "Send credentials over https"),
                                    status_code=403, media_type=XML, headers=NO_STORE)
                return _unauthorised()
            account_id, address = result.account_id, result.address
        found = await _offered(account_id)
        return Response(autodiscover.response_xml(address, found), media_type=XML,
                        headers=NO_STORE)

    return [Route("/.well-known/autoconfig/mail/config-v1.1.xml", thunderbird_config,
                  methods=["GET"]),
            Route("/mail/config-v1.1.xml", thunderbird_config, methods=["GET"]),
            Route("/autodiscover/autodiscover.xml", autodiscover_pox, methods=["POST"]),
            Route("/Autodiscover/Autodiscover.xml", autodiscover_pox, methods=["POST"])]
