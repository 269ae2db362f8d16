"""`/queue`: the `queue list|retry|delete` commands on the outbound queue (mail for other
domains that has not left yet)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.outbound import operator

router = APIRouter(tags=["queue"])
QueueId = Annotated[str, Path(max_length=64, description="a queued message's id",
                              examples=["0123456789ab"])]


@router.get("/queue", response_model=list[models.QueueEntry], summary="queue list")
def queue_list(svc: Svc, actor: Acting) -> list[dict[str, object]]:
    return [operator.as_json(entry) for entry in operator.listing(svc, actor)]


@router.post("/queue/retry", response_model=models.QueueRetried, summary="queue retry --all")
def queue_retry_all(svc: Svc, actor: Acting) -> dict[str, object]:
    return {"id": None, "recipients": operator.retry(svc, actor, None)}


@router.post("/queue/{queue_id}/retry", response_model=models.QueueRetried,
             summary="queue retry")
def queue_retry(svc: Svc, actor: Acting, queue_id: QueueId) -> dict[str, object]:
    return {"id": queue_id, "recipients": operator.retry(svc, actor, queue_id)}


@router.delete("/queue/{queue_id}", response_model=models.QueueEntry, summary="queue delete")
def queue_delete(svc: Svc, actor: Acting, queue_id: QueueId) -> dict[str, object]:
    return operator.as_json(operator.delete(svc, actor, queue_id))
