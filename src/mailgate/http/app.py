"""Starlette application: `/healthz`, `/metrics` (Prometheus) and the admin API
(`http/admin`, mounted at `/api/admin/v1`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from mailgate import __version__
from mailgate.http.admin.app import PREFIX as ADMIN_PREFIX
from mailgate.metrics import REGISTRY


def build_app(live_sessions: Callable[[], int], admin_api: ASGIApp | None = None) -> Starlette:
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__,
                             "live_sessions": live_sessions()})

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes: list[Route | Mount] = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if admin_api is not None:
        routes.append(Mount(ADMIN_PREFIX, admin_api))
    return Starlette(routes=routes)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside mailgate's own event loop: the server, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        yield


def http_server(app: Starlette, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off", server_header=False)
    return EmbeddedServer(config)
