"""What a client needs to find the OAuth server: the discovery document (OpenID Connect
Discovery 1.0, and the same at RFC 8414's address) and the JWKS with every signing key, the
older ones too, so tokens signed before a rotation still verify."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgate.directory.oauth_clients import SCOPES
from mailgate.http.oauth.provider import Provider
from mailgate.http.oauth.token import DEVICE_CODE

CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


def metadata(provider: Provider) -> dict[str, object]:
    url = provider.url
    return {
        "issuer": provider.issuer,
        "authorization_endpoint": url("/oauth/authorize"),
        "token_endpoint": url("/oauth/token"),
        "device_authorization_endpoint": url("/oauth/device_authorization"),
        "revocation_endpoint": url("/oauth/revoke"),
        "introspection_endpoint": url("/oauth/introspect"),
        "userinfo_endpoint": url("/oauth/userinfo"),
        "jwks_uri": url("/oauth/jwks"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH[:2],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email",
                             "email_verified", "name", "preferred_username"],
        "authorization_response_iss_parameter_supported": True,
    }


def routes(provider: Provider) -> list[Route]:
    async def document(_request: Request) -> Response:
        return JSONResponse(metadata(provider), headers={"Cache-Control": "max-age=300"})

    async def jwks(_request: Request) -> Response:
        return JSONResponse({"keys": provider.svc.tokens.public_keys()},
                            headers={"Cache-Control": "max-age=300"})

    return [Route("/.well-known/openid-configuration", document, methods=["GET"]),
            Route("/.well-known/oauth-authorization-server", document, methods=["GET"]),
            Route("/oauth/jwks", jwks, methods=["GET"])]
