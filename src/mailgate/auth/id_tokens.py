"""OpenID Connect ID tokens: who signed in, for which client (OIDC Core §2).

Signed RS256 with the same keys as access tokens (`auth.keys`), so a client verifies both with
the JWKS the discovery document names. `aud` is the client_id; `sub` and `email` the account's
address; `nonce` echoes the authorization request's; `auth_time` is when the user typed their
password on the sign-in page.
"""

from __future__ import annotations

from joserfc import jwt

from mailgate.auth.keys import ALGORITHM
from mailgate.auth.tokens import AccessTokens

ID_TOKEN_LIFETIME = 3600


def issue_id_token(tokens: AccessTokens, *, client_id: str, subject: str, name: str,
                   scopes: frozenset[str], auth_time: float, nonce: str | None,
                   now: float) -> str:
    key = tokens.signing_key()
    claims: dict[str, object] = {"iss": tokens.issuer, "sub": subject, "aud": client_id,
                                 "iat": int(now), "exp": int(now) + ID_TOKEN_LIFETIME,
                                 "auth_time": int(auth_time), "azp": client_id}
    if nonce:
        claims["nonce"] = nonce
    claims.update(user_claims(subject, name, scopes))
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key,
                      algorithms=[ALGORITHM])


def user_claims(subject: str, name: str, scopes: frozenset[str]) -> dict[str, object]:
    """The claims the `email` and `profile` scopes release (ID token and userinfo alike)."""
    claims: dict[str, object] = {}
    if "email" in scopes:
        claims.update(email=subject, email_verified=True)
    if "profile" in scopes:
        claims.update(name=name or subject, preferred_username=subject)
    return claims
