"""The audit trail, the usage report and Recoverable Items: the `audit`, `report usage` and
`recover` commands."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mailgate.audit import reading
from mailgate.audit.usage_report import usage_rows
from mailgate.directory import recovery
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Address

router = APIRouter(tags=["evidence"])


@router.get("/audit", summary="audit",
            description="Entries oldest first: at least `id`, `at`, `actor`, `role`, "
                        "`action`, `account`, and each entry's details.")
def audit(svc: Svc, actor: Acting,
          account: Annotated[str | None, Query(max_length=254)] = None,
          limit: Annotated[int, Query(ge=0, le=100_000,
                                      description="only the newest N (0: all)")] = 0,
          ) -> list[dict[str, Any]]:
    return reading.entries(svc, actor, account, limit)


@router.get("/audit/verify", response_model=models.AuditVerified, summary="audit verify")
def audit_verify(svc: Svc, actor: Acting) -> dict[str, object]:
    total, problems = reading.check_chain(svc, actor)
    return {"intact": not problems, "entries": total, "problems": [str(p) for p in problems]}


@router.get("/reports/usage", response_model=list[models.UsageRow], summary="report usage")
def report_usage(svc: Svc, actor: Acting,
                 protocol: Annotated[str | None, Query(max_length=32)] = None,
                 ) -> list[dict[str, object]]:
    return usage_rows(svc, actor, protocol)


@router.get("/accounts/{address}/recoverable", response_model=list[models.Recoverable],
            summary="recover list")
def recover_list(svc: Svc, actor: Acting, address: Address) -> list[dict[str, object]]:
    return [item.as_json() for item in recovery.list_items(svc, actor, address)]


@router.post("/accounts/{address}/recoverable/restore", response_model=models.Restored,
             summary="recover restore")
def recover_restore(svc: Svc, actor: Acting, address: Address,
                    body: models.RecoverRestore) -> dict[str, object]:
    count = recovery.restore(svc, actor, address, body.all, list(body.ids))
    return {"address": address.strip().lower(), "restored": count}
