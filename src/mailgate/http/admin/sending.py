"""`/plans/{name}/sending`: the `plan sending` command, which shows a plan's sending limits
and Sent copy (GET) or changes them (PATCH); both answer as `plan sending --json`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path

from mailgate.directory import sending
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc

router = APIRouter(tags=["sending"])
PlanName = Annotated[str, Path(max_length=128, examples=["standard"])]


def _limit(body: models.PlanSending, field: str) -> str | None:
    """The CLI's `--messages-per-hour N|none` from a body field; None: not given."""
    if field not in body.model_fields_set:
        return None
    value = getattr(body, field)
    return sending.NO_LIMIT if value is None else str(value)


@router.get("/plans/{name}/sending", response_model=models.PlanSendingShown,
            summary="plan sending")
def plan_sending_show(svc: Svc, actor: Acting, name: PlanName) -> dict[str, object]:
    _before, now = sending.set_plan(svc, actor, name)  # nothing given: shows, changes nothing
    return {"plan": name, **asdict(now)}


@router.patch("/plans/{name}/sending", response_model=models.PlanSendingShown,
              summary="plan sending --messages-per-hour|--recipients-per-hour|--sent-copy",
              description="Fields left out stay as they are; a limit of `none` or null "
                          "lifts it. Past a limit, submission answers `451 4.7.1`.")
def plan_sending_change(svc: Svc, actor: Acting, name: PlanName,
                        body: models.PlanSending) -> dict[str, object]:
    _before, after = sending.set_plan(
        svc, actor, name, messages_per_hour=_limit(body, "messages_per_hour"),
        recipients_per_hour=_limit(body, "recipients_per_hour"), sent_copy=body.sent_copy)
    return {"plan": name, **asdict(after)}
