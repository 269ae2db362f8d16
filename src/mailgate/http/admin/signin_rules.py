"""Which sign-ins a door accepts: the `methods set` (per plan, department or account) and
`network set` commands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mailgate.directory import doors
from mailgate.directory.authority import Actor
from mailgate.directory.views import normalise_address
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Address, Protocol
from mailgate.policy.catalogue import normalise_protocol
from mailgate.service import Service

router = APIRouter(tags=["sign-in rules"])
Name = Annotated[str, Path(max_length=128, examples=["Physics"])]
PlanName = Annotated[str, Path(max_length=128, examples=["standard"])]
LIFTS = "`all` lifts the rule: the door accepts every method again."


def _methods(svc: Service, actor: Actor, scope: str, name: str, protocol: str,
             body: models.MethodsSet) -> dict[str, object]:
    wanted = None if body.methods == "all" else list(body.methods)
    chosen = doors.set_methods(svc, actor, scope, name, protocol, wanted)
    shown = normalise_address(name) if scope == "account" else name
    return {"scope": scope, "name": shown, "protocol": normalise_protocol(protocol),
            "methods": "all" if chosen is None else chosen}


@router.put("/plans/{name}/methods/{protocol}", response_model=models.MethodsRule,
            summary="methods set plan", description=LIFTS)
def plan_methods(svc: Svc, actor: Acting, name: PlanName, protocol: Protocol,
                 body: models.MethodsSet) -> dict[str, object]:
    return _methods(svc, actor, "plan", name, protocol, body)


@router.put("/departments/{name}/methods/{protocol}", response_model=models.MethodsRule,
            summary="methods set department", description=LIFTS)
def department_methods(svc: Svc, actor: Acting, name: Name, protocol: Protocol,
                       body: models.MethodsSet) -> dict[str, object]:
    return _methods(svc, actor, "department", name, protocol, body)


@router.put("/accounts/{address}/methods/{protocol}", response_model=models.MethodsRule,
            summary="methods set account", description=LIFTS)
def account_methods(svc: Svc, actor: Acting, address: Address, protocol: Protocol,
                    body: models.MethodsSet) -> dict[str, object]:
    return _methods(svc, actor, "account", address, protocol, body)


@router.put("/networks/{protocol}", response_model=models.NetworkRule, summary="network set",
            description="An empty list lets the door accept sign-ins from anywhere.")
def network_set(svc: Svc, actor: Acting, protocol: Protocol,
                body: models.NetworkSet) -> dict[str, object]:
    networks = doors.set_networks(svc, actor, protocol, body.networks)
    return {"protocol": normalise_protocol(protocol), "networks": networks}
