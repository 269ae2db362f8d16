"""Live sessions: `mailgate sessions`, and ending one (held by this node) by hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from mailgate.events import live
from mailgate.events.sessions import SessionRegistry
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.http.admin.params import Address

router = APIRouter(tags=["sessions"])
SessionId = Annotated[str, Path(max_length=64)]


@router.get("/sessions", response_model=list[models.LiveSessionShown], summary="sessions")
def sessions(svc: Svc, actor: Acting) -> list[dict[str, object]]:
    return live.list_sessions(svc, actor)


@router.get("/accounts/{address}/sessions", response_model=list[models.LiveSessionShown],
            summary="sessions ADDRESS")
def account_sessions(svc: Svc, actor: Acting, address: Address) -> list[dict[str, object]]:
    return live.list_sessions(svc, actor, address)


@router.delete("/sessions/{session_id}", response_model=models.EndedSession,
               summary="end a live session",
               description="The client is told as when its door closes (IMAP `BYE "
                           "[CONTACTADMIN] SessionEnded: ...`). Only the node that holds "
                           "the session can end it (409 names that node).")
async def end_session(request: Request, svc: Svc, actor: Acting, session_id: SessionId,
                      reason: Annotated[str, Query(max_length=1000,
                                                   description="kept in the audit log")] = "",
                      ) -> dict[str, object]:
    registry: SessionRegistry = request.app.state.registry
    ended = await live.end_session(svc, actor, registry, session_id, reason)
    return {"id": ended.id, "account": ended.address, "protocol": ended.protocol,
            "ended": True}
