"""`/accounts`: the `account`, `protocol set` and `role grant` commands, and `/me`."""

from __future__ import annotations

from fastapi import APIRouter

from mailgate.directory import accounts, doors, listing
from mailgate.durations import parse_duration
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Address, Protocol

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=models.Roles, summary="Who the API key acts as")
def me(actor: Acting) -> dict[str, object]:
    return {"address": actor.address, "role": actor.role_name,
            "roles": sorted(role for role, _ in actor.roles)}


@router.get("/accounts", response_model=list[models.AccountListed],
            summary="account list")
def account_list(svc: Svc, actor: Acting) -> list[dict[str, object]]:
    return listing.list_accounts(svc, actor)


@router.post("/accounts", response_model=models.AccountShow, status_code=201,
             summary="account create")
def account_create(svc: Svc, actor: Acting, body: models.AccountCreate) -> dict[str, object]:
    accounts.create(svc, actor, body.address, body.password, body.name, body.department,
                    body.plan, body.pending)
    return listing.show_account(svc, actor, body.address).as_json()


@router.get("/accounts/{address}", response_model=models.AccountShow, summary="account show")
def account_show(svc: Svc, actor: Acting, address: Address) -> dict[str, object]:
    return listing.show_account(svc, actor, address).as_json()


@router.post("/accounts/{address}/password", response_model=models.PasswordChanged,
             summary="account password")
def account_password(svc: Svc, actor: Acting, address: Address,
                     body: models.NewPassword) -> dict[str, object]:
    ended = accounts.set_password(svc, actor, address, body.password)
    return {"address": address.strip().lower(), "live_sessions_ended": ended}


@router.post("/accounts/{address}/compromise", response_model=models.AccountShow,
             summary="account compromise")
def account_compromise(svc: Svc, actor: Acting, address: Address,
                       body: models.Compromise) -> dict[str, object]:
    accounts.compromise(svc, actor, address, body.reason)
    return listing.show_account(svc, actor, address).as_json()


@router.post("/accounts/{address}/restore", response_model=models.AccountShow,
             summary="account restore")
def account_restore(svc: Svc, actor: Acting, address: Address,
                    body: models.Restore) -> dict[str, object]:
    accounts.restore(svc, actor, address, body.password, body.note)
    return listing.show_account(svc, actor, address).as_json()


@router.post("/accounts/{address}/deactivate", response_model=models.AccountShow,
             summary="account deactivate")
def account_deactivate(svc: Svc, actor: Acting, address: Address,
                       body: models.Deactivate | None = None) -> dict[str, object]:
    accounts.deactivate(svc, actor, address, body is not None and body.now)
    return listing.show_account(svc, actor, address).as_json()


@router.post("/accounts/{address}/activate", response_model=models.AccountShow,
             summary="account activate")
def account_activate(svc: Svc, actor: Acting, address: Address) -> dict[str, object]:
    accounts.activate(svc, actor, address)
    return listing.show_account(svc, actor, address).as_json()


@router.put("/accounts/{address}/protocols/{protocol}", response_model=models.DoorDecision,
            summary="protocol set")
def protocol_set(svc: Svc, actor: Acting, address: Address, protocol: Protocol,
                 body: models.ProtocolSet) -> dict[str, object]:
    seconds = parse_duration(body.for_) if body.for_ is not None else None
    door = doors.set_protocol(svc, actor, address, protocol, body.value == "on", body.reason,
                              seconds)
    return {"account": address.strip().lower(), "protocol": door.protocol,
            "enabled": door.allowed, "reason": door.reason, "detail": door.detail,
            "locked": door.locked, "source": door.source}


@router.post("/accounts/{address}/roles", response_model=models.Roles, status_code=201,
             summary="role grant")
def role_grant(svc: Svc, actor: Acting, address: Address,
               body: models.RoleGrant) -> dict[str, object]:
    accounts.grant_role(svc, actor, address, body.role, body.department)
    shown = listing.show_account(svc, actor, address)
    return {"address": shown.address, "role": body.role, "roles": shown.roles}
