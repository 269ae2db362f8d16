"""`/departments` and `/plans`: the `department create|policy` and `plan set` commands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mailgate.directory import doors
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Protocol

router = APIRouter(tags=["policy"])
Name = Annotated[str, Path(max_length=128, examples=["Physics"])]


@router.post("/departments", status_code=201, response_model=models.DepartmentCreate,
             summary="department create")
def department_create(svc: Svc, actor: Acting,
                      body: models.DepartmentCreate) -> dict[str, object]:
    doors.create_department(svc, actor, body.name)
    return {"name": body.name.strip()}


@router.put("/departments/{name}/policy/{protocol}", summary="department policy")
def department_policy(svc: Svc, actor: Acting, name: Name, protocol: Protocol,
                      body: models.DepartmentPolicy) -> dict[str, str]:
    doors.set_department_policy(svc, actor, name, protocol, body.value == "deny")
    return {"department": name, "protocol": protocol, "value": body.value}


@router.put("/plans/{name}/protocols/{protocol}", response_model=models.PlanChange,
            summary="plan set",
            description="Without `existing`, refused (409) when any account would be "
                        "affected; `dry_run` only reports the counts.")
def plan_set(svc: Svc, actor: Acting, name: Name, protocol: Protocol,
             body: models.PlanSet) -> dict[str, object]:
    change = doors.plan_set(svc, actor, name, protocol, body.value == "on", body.existing,
                            body.dry_run)
    return {"plan": change.plan, "protocol": change.protocol, "old": change.old,
            "new": change.new, "affected": change.affected,
            "used_last_90_days": change.used_recently, "applied": change.applied,
            "existing": change.existing, "summary": change.summary()}
