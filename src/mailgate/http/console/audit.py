"""The audit viewer: the newest entries (then older ones, a page at a time), filtered by
account, actor and action, and the keyed hash chain checked on request."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.audit import reading
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError
from mailgate.http.console.rendering import PREFIX, render
from mailgate.http.console.staff import Console, refusal_of, staff_only

LIMITS = (50, 200, 1000)
CORE = {"id", "at", "actor", "role", "action", "account"}


def routes(console: Console) -> list[Route]:
    svc = console.svc

    async def viewer(request: Request, actor: Actor) -> Response:
        params = request.query_params
        filters = {name: params.get(name, "").strip()[:320] for name in
                   ("account", "actor", "action")}
        limit = int(params["limit"]) if params.get("limit", "") in map(str, LIMITS) \
            else LIMITS[0]
        before = int(params["before"]) if params.get("before", "").isdigit() and \
            len(params["before"]) < 19 else None
        chain: dict[str, object] | None = None
        try:
            found = await asyncio.to_thread(reading.entries, svc, actor,
                                            filters["account"] or None, limit,
                                            filters["actor"] or None, filters["action"] or None,
                                            before)
            if params.get("verify") == "1":
                covered, problems = await asyncio.to_thread(reading.check_chain, svc, actor)
                chain = {"covered": covered, "problems": [str(p) for p in problems]}
        except DirectoryError as error:
            problem = refusal_of(error)
            return render(request, actor, "message.html", problem.status, section="audit",
                          title="Audit", detail=problem.message)
        found.reverse()
        rows = [{**{k: e.get(k) for k in CORE},
                 "details": {k: v for k, v in e.items() if k not in CORE}} for e in found]
        older = "?" + urlencode({**filters, "limit": limit, "before": rows[-1]["id"]}) \
            if len(rows) == limit else None
        return render(request, actor, "audit.html", section="audit", rows=rows,
                      filters=filters, limit=limit, limits=LIMITS, chain=chain, older=older,
                      paged=before is not None)

    return [Route(PREFIX + "/audit", staff_only(console, viewer), methods=["GET"])]
