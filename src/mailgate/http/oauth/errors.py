"""OAuth error answers (RFC 6749 §5.2, §4.1.2.1): JSON from the token-side endpoints, a
redirect back to the client from the authorization endpoint (only ever to a registered
redirect URI; anything else gets an error page from the caller)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import JSONResponse, RedirectResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_error(error: str, description: str = "", status: int = 400,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def invalid_client() -> JSONResponse:
    return json_error("invalid_client", "client authentication failed", 401,
                      {"WWW-Authenticate": 'Basic realm="mailgate"'})


def with_query(uri: str, params: dict[str, str]) -> str:
    """`uri` with these parameters added to its query (it may have one already)."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    return RedirectResponse(with_query(uri, params), status_code=303, headers=NO_STORE)
