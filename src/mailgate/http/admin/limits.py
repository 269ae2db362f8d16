"""Limits of the admin API: requests handled at once (bodies are capped for the whole HTTP
listener by `http/bodylimit.py`)."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` requests are handled at once, the others wait their
    turn (setting a password costs an argon2id hash of 64 MiB: a burst of requests must not
    take a burst of memory)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self._slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self._slots:
            await self.app(scope, receive, send)
