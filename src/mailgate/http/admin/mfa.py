"""Multi-factor authentication: the `mfa require` (per plan or department), `mfa status`
and `mfa reset` commands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mailgate.directory import mfa
from mailgate.directory.authority import Actor
from mailgate.directory.views import normalise_address
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Address
from mailgate.service import Service

router = APIRouter(tags=["mfa"])
Name = Annotated[str, Path(max_length=128, examples=["Physics"])]
PlanName = Annotated[str, Path(max_length=128, examples=["standard"])]
CHANGED = "`changed` is false when it already was so (nothing audited)."


def _require(svc: Service, actor: Actor, scope: str, name: str,
             body: models.MfaRequire) -> dict[str, object]:
    required = body.value == "on"
    changed = mfa.set_required(svc, actor, scope, name, required)
    return {"scope": scope, "name": name, "required": required, "changed": changed}


@router.put("/plans/{name}/mfa", response_model=models.MfaRequired,
            summary="mfa require plan", description=CHANGED)
def plan_mfa(svc: Svc, actor: Acting, name: PlanName,
             body: models.MfaRequire) -> dict[str, object]:
    return _require(svc, actor, "plan", name, body)


@router.put("/departments/{name}/mfa", response_model=models.MfaRequired,
            summary="mfa require department", description=CHANGED)
def department_mfa(svc: Svc, actor: Acting, name: Name,
                   body: models.MfaRequire) -> dict[str, object]:
    return _require(svc, actor, "department", name, body)


@router.get("/accounts/{address}/mfa", response_model=models.MfaStatus,
            summary="mfa status --json")
def mfa_status(svc: Svc, actor: Acting, address: Address) -> dict[str, object]:
    found, state = mfa.status(svc, actor, address)
    return {"address": found, **state.as_json()}


@router.post("/accounts/{address}/mfa/reset", response_model=models.MfaRemoved,
             summary="mfa reset",
             description="Removes every second factor (TOTP, security keys, recovery codes); "
                         "the account enrols again at its next sign-in.")
def mfa_reset(svc: Svc, actor: Acting, address: Address,
              body: models.MfaReset) -> dict[str, object]:
    removed = mfa.reset(svc, actor, address, body.reason)
    return {"address": normalise_address(address), "removed": removed}
