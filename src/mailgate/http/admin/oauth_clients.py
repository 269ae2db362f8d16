"""`/oauth/clients`: the `oauth client add|list|remove` commands. A confidential client's
secret is in the add answer only: never listed, never logged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mailgate.directory import oauth_clients
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc

router = APIRouter(tags=["oauth"])
ClientId = Annotated[str, Path(max_length=64, description="the client_id of a client",
                               examples=["0123456789abcdef01234567"])]


@router.get("/oauth/clients", response_model=list[models.OAuthClientShown],
            summary="oauth client list")
def client_list(svc: Svc, actor: Acting) -> list[dict[str, object]]:
    return [client.as_json() for client in oauth_clients.list_all(svc, actor)]


@router.post("/oauth/clients", response_model=models.OAuthClientMade, status_code=201,
             summary="oauth client add (a confidential client's secret is shown once)")
def client_add(svc: Svc, actor: Acting, body: models.OAuthClientAdd) -> dict[str, object]:
    made, secret = oauth_clients.add(svc, actor, body.name, body.redirect_uris,
                                     confidential=not body.public,
                                     scopes=body.scopes or oauth_clients.DEFAULT_SCOPES)
    return {**made.as_json(), "client_secret": secret}


@router.delete("/oauth/clients/{client_id}", status_code=204, summary="oauth client remove")
def client_remove(svc: Svc, actor: Acting, client_id: ClientId) -> Response:
    oauth_clients.remove(svc, actor, client_id)
    return Response(status_code=204)
