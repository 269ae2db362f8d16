"""Bearer API-key authentication: the key's account is the actor, with its roles' limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mailgate.directory import api_keys
from mailgate.directory.authority import Actor
from mailgate.http.admin.problems import Unauthorized
from mailgate.service import Service

bearer = HTTPBearer(auto_error=False, description="An operator API key (mailgate api-key "
                                                  "create)")


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def authenticated(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None,
                                         Depends(bearer)]) -> Actor:
    """The actor of a valid key; any other request gets the one 401 answer."""
    if credentials is None:
        raise Unauthorized()
    actor = api_keys.authenticate(service(request), credentials.credentials)
    if actor is None:
        raise Unauthorized()
    return actor


Acting = Annotated[Actor, Depends(authenticated)]
Svc = Annotated[Service, Depends(service)]
