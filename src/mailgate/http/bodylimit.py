"""Request bodies of the HTTP listener are small (forms, admin API JSON): past `max_bytes` a
request gets 413 and the rest of its body is never read, whether the client declared its
length or streams it (uvicorn and Starlette's form parser set no limit). A few paths may be
given larger caps (`larger`: the webmail's compose form, which carries attachments)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # the largest legitimate body (a restore of many ids) is far less


class BodyTooLarge(HTTPException):
    """Raised by `receive` past the cap; an HTTPException, so a request handler reading the
    body lets it through to its 413 answer instead of calling it a malformed body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """ASGI middleware: at most `max_bytes` of request body reach the application."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """RFC 9457 problem+json, the admin API's error format, understood by any client."""
        refusal = BodyTooLarge(limit)
        body = {"type": "about:blank", "title": "Content Too Large", "status": 413,
                "detail": refusal.detail}
        response = JSONResponse(body, status_code=413, media_type="application/problem+json")
        await response(scope, receive, send)
