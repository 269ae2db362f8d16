"""`/cases`: the `case open|list|note|escalate|approve|deny` commands."""

from __future__ import annotations

from fastapi import APIRouter

from mailgate.directory import cases
from mailgate.durations import parse_duration
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Identifier

router = APIRouter(tags=["cases"])


@router.get("/cases", response_model=list[models.CaseShown], summary="case list")
def case_list(svc: Svc, actor: Acting) -> list[dict[str, object]]:
    return [c.as_json() for c in cases.list_cases(svc, actor)]


@router.post("/cases", response_model=models.CaseShown, status_code=201, summary="case open")
def case_open(svc: Svc, actor: Acting, body: models.CaseOpen) -> dict[str, object]:
    case_id = cases.open_case(svc, actor, body.account, body.protocol, body.want == "on",
                              body.note)
    return cases.get_case(svc, actor, case_id).as_json()


@router.get("/cases/{case_id}", response_model=models.CaseShown, summary="one case")
def case_show(svc: Svc, actor: Acting, case_id: Identifier) -> dict[str, object]:
    return cases.get_case(svc, actor, case_id).as_json()


@router.post("/cases/{case_id}/escalate", response_model=models.CaseShown,
             summary="case escalate")
def case_escalate(svc: Svc, actor: Acting, case_id: Identifier) -> dict[str, object]:
    cases.escalate(svc, actor, case_id)
    return cases.get_case(svc, actor, case_id).as_json()


@router.post("/cases/{case_id}/notes", response_model=models.CaseShown, status_code=201,
             summary="case note")
def case_note(svc: Svc, actor: Acting, case_id: Identifier,
              body: models.CaseNote) -> dict[str, object]:
    cases.add_note(svc, actor, case_id, body.note)
    return cases.get_case(svc, actor, case_id).as_json()


@router.post("/cases/{case_id}/approve", response_model=models.CaseShown,
             summary="case approve")
def case_approve(svc: Svc, actor: Acting, case_id: Identifier,
                 body: models.CaseApprove | None = None) -> dict[str, object]:
    duration = body.for_ if body is not None else None
    seconds = parse_duration(duration) if duration is not None else None
    cases.approve(svc, actor, case_id, seconds)
    return cases.get_case(svc, actor, case_id).as_json()


@router.post("/cases/{case_id}/deny", response_model=models.CaseShown, summary="case deny")
def case_deny(svc: Svc, actor: Acting, case_id: Identifier) -> dict[str, object]:
    cases.deny(svc, actor, case_id)
    return cases.get_case(svc, actor, case_id).as_json()
