"""Bearer authentication: an operator API key (`mgk_...`) or an OAuth access token with the
staff scope (`mailgate.admin`); the key's or token's account is the actor, with its roles'
limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mailgate.directory import api_keys, tokens
from mailgate.directory.authority import Actor
from mailgate.http.admin.problems import Unauthorized
from mailgate.service import Service

bearer = HTTPBearer(auto_error=False, description="An operator API key (mailgate api-key "
                                                  "create), or an access token with the scope "
                                                  "mailgate.admin (mailgate token issue "
                                                  "--staff, or an OAuth client's grant)")


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def authenticated(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None,
                                         Depends(bearer)]) -> Actor:
    """The actor of a valid key; any other request gets the one 401 answer."""
    if credentials is None:
        raise Unauthorized()
    secret, svc = credentials.credentials, service(request)
    actor = api_keys.authenticate(svc, secret) if secret.startswith(api_keys.PREFIX) \
        else tokens.staff_actor(svc, secret)
    if actor is None:
        raise Unauthorized()
    return actor


Acting = Annotated[Actor, Depends(authenticated)]
Svc = Annotated[Service, Depends(service)]
