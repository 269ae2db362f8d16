"""App passwords, access tokens and API keys: the `app-password`, `token` and `api-key`
commands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mailgate.directory import api_keys, app_passwords, tokens
from mailgate.durations import parse_duration
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Address, Identifier

router = APIRouter(tags=["credentials"])
TokenId = Annotated[str, Path(max_length=64, description="the jti of an issued token")]


def _seconds(duration: str | None) -> int | None:
    return parse_duration(duration) if duration is not None else None


@router.get("/accounts/{address}/app-passwords", response_model=list[models.AppPasswordShown],
            summary="app-password list")
def app_password_list(svc: Svc, actor: Acting, address: Address) -> list[dict[str, object]]:
    now = svc.clock()
    return [entry.as_json(now) for entry in app_passwords.list_for(svc, actor, address)]


@router.post("/accounts/{address}/app-passwords", response_model=models.AppPasswordMade,
             status_code=201, summary="app-password create (the secret is shown once)")
def app_password_create(svc: Svc, actor: Acting, address: Address,
                        body: models.AppPasswordCreate) -> dict[str, object]:
    made, secret = app_passwords.create(svc, actor, address, body.protocols, body.label,
                                        _seconds(body.expires), body.networks)
    return {**made.as_json(svc.clock()), "secret": secret}


@router.delete("/accounts/{address}/app-passwords/{app_password_id}", status_code=204,
               summary="app-password revoke")
def app_password_revoke(svc: Svc, actor: Acting, address: Address,
                        app_password_id: Identifier) -> Response:
    app_passwords.revoke(svc, actor, address, app_password_id)
    return Response(status_code=204)


@router.post("/accounts/{address}/tokens", response_model=models.TokenIssued, status_code=201,
             summary="token issue")
def token_issue(svc: Svc, actor: Acting, address: Address,
                body: models.TokenIssue) -> dict[str, object]:
    issued = tokens.issue(svc, actor, address, body.protocols, _seconds(body.lifetime),
                          body.staff)
    claims = issued.claims
    return {"token": issued.token, "token_type": "Bearer", "jti": claims.token_id,
            "address": claims.subject, "scope": " ".join(sorted(claims.scopes)),
            "expires_at": claims.expires_at}


@router.delete("/accounts/{address}/tokens/{token_id}", status_code=204,
               summary="token revoke")
def token_revoke(svc: Svc, actor: Acting, address: Address, token_id: TokenId) -> Response:
    tokens.revoke(svc, actor, address, token_id)
    return Response(status_code=204)


@router.get("/api-keys", response_model=list[models.ApiKeyShown], summary="api-key list")
def api_key_list(svc: Svc, actor: Acting) -> list[dict[str, object]]:
    now = svc.clock()
    return [key.as_json(now) for key in api_keys.list_keys(svc, actor)]


@router.post("/api-keys", response_model=models.ApiKeyMade, status_code=201,
             summary="api-key create (the secret is shown once)")
def api_key_create(svc: Svc, actor: Acting, body: models.ApiKeyCreate) -> dict[str, object]:
    made, secret = api_keys.create(svc, actor, body.account, body.label,
                                   _seconds(body.expires))
    return {**made.as_json(svc.clock()), "secret": secret}


@router.delete("/api-keys/{key_id}", response_model=models.ApiKeyShown,
               summary="api-key revoke")
def api_key_revoke(svc: Svc, actor: Acting, key_id: Identifier) -> dict[str, object]:
    return api_keys.revoke(svc, actor, key_id).as_json(svc.clock())
