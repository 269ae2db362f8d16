"""Who is calling a token-side endpoint (RFC 6749 §2.3): a confidential client proves its
secret (HTTP Basic, or `client_secret` in the form); a public client just names itself with
`client_id` and may not send a secret it does not have."""

from __future__ import annotations

import asyncio
import base64
import binascii
from urllib.parse import unquote

from starlette.datastructures import FormData
from starlette.requests import Request

from mailgate.directory import oauth_clients
from mailgate.directory.oauth_clients import Client
from mailgate.http.oauth.provider import Provider


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(
            ":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (unquote(user), unquote(password)) if sep else None


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def authenticate(provider: Provider, request: Request, form: FormData,
                       confidential_only: bool = False) -> Client | None:
    """The calling client, or None (the caller answers `invalid_client`)."""
    basic = _basic(request)
    if basic is not None:
        client_id, secret = basic
        if _field(form, "client_secret"):
            return None  # RFC 6749 §2.3: one method per request
    else:
        client_id, secret = _field(form, "client_id"), _field(form, "client_secret")
    return await asyncio.to_thread(_check, provider, client_id, secret, confidential_only)


def _check(provider: Provider, client_id: str, secret: str, confidential_only: bool
           ) -> Client | None:
    with provider.svc.reader.connect() as conn:
        client = oauth_clients.find(conn, client_id)
        if client is None:
            return None
        if client.confidential:
            ok = bool(secret) and oauth_clients.check_secret(provider.svc, conn, client_id,
                                                             secret)
            return client if ok else None
    return None if secret or confidential_only else client
