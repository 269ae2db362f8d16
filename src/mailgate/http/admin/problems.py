"""Errors as `application/problem+json` (RFC 9457), worded as the CLI's one-line refusals.

A directory error maps to its status by kind (NotAllowed 403, NotFound 404, Conflict and
InvalidTransition 409, anything else invalid 422); the `detail` is the sentence the CLI
prints after `mailgate: `.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mailgate.directory.errors import (
    Conflict,
    DirectoryError,
    InvalidTransition,
    NotAllowed,
    NotFound,
)
from mailgate.safetext import visible

MEDIA_TYPE = "application/problem+json"
AUTH_CHALLENGE = 'Bearer realm="mailgate admin API"'
UNAUTHORIZED = ("a valid API key is required: send 'Authorization: Bearer KEY' with a key "
                "made by 'mailgate api-key create'")


class Unauthorized(Exception):
    """No API key, or one that is unknown, revoked, expired or of an inactive account."""


def problem(status: int, detail: str, headers: dict[str, str] | None = None,
            **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": visible(detail), **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _status_of(exc: DirectoryError) -> int:
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict | InvalidTransition):
        return 409
    return 422


def _field(location: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(Unauthorized)
    async def unauthorized(_request: Request, _exc: Unauthorized) -> JSONResponse:
        return problem(401, UNAUTHORIZED, {"WWW-Authenticate": AUTH_CHALLENGE})

    @app.exception_handler(DirectoryError)
    async def refused(_request: Request, exc: DirectoryError) -> JSONResponse:
        return problem(_status_of(exc), str(exc))

    @app.exception_handler(ValueError)  # an unknown protocol, a malformed duration
    async def invalid(_request: Request, exc: ValueError) -> JSONResponse:
        return problem(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem(422, "the request body is not valid JSON")
        errors = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
                  for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "malformed request"}
        return problem(422, f"{first['field']}: {first['message']}", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def server_error(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette logs the exception after this answer is sent.
        return problem(500, "the server failed to handle this request; it is logged")
