"""OAuth access tokens: JWTs (RFC 9068 profile) that the mail doors accept over SASL.

A token says who (`sub`, the account address), for what (`aud`, the mail service; `scope`,
one `mail.<door>` per door it opens), until when (`exp`), and carries an id (`jti`) the
revocation list can name. It is signed RS256 by the newest key of `auth.keys`; validation
checks the signature with a cached key, the `at+jwt` type, issuer, audience, time and scope,
without touching the database (the gate checks revocation with the account it loads anyway).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import GuestProtocol, RSAKey

from mailgate.auth.keys import ALGORITHM, SigningKeys

#: door -> the scope a token needs to open it
SCOPES: dict[str, str] = {"imap": "mail.imap", "pop": "mail.pop", "smtp": "mail.smtp"}
#: the scope that lets a token act in the admin API, within its account's staff roles
STAFF_SCOPE = "mailgate.admin"
TOKEN_TYPE = "at+jwt"
MAX_TOKEN_LENGTH = 8192
CLI_CLIENT = "mailgate-cli"


class TokenRejected(Exception):
    """A token that does not open this door; `reason` is for the audit log, not the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessToken:
    """The claims of a valid token that mailgate acts on."""

    subject: str
    scopes: frozenset[str]
    token_id: str
    issued_at: int
    expires_at: int
    client_id: str


def scope_for(protocol: str) -> str:
    """The scope that opens `protocol`, e.g. `mail.imap`."""
    try:
        return SCOPES[protocol]
    except KeyError:
        raise ValueError(f"tokens open {', '.join(SCOPES)}; not {protocol}") from None


class AccessTokens:
    """Issue and validate the access tokens of one issuer."""

    def __init__(self, keys: SigningKeys, issuer: str, clock: Callable[[], float]) -> None:
        self._keys = keys
        self.issuer = issuer.rstrip("/")
        self.audience = f"{self.issuer}/mail"
        self._clock = clock
        self._claims = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            jti={"essential": True}, scope={"essential": True})

    def prepare(self) -> None:
        """Read the keys now (making the first one if there is none), not at the first
        sign-in."""
        self._keys.signing_key()

    def signing_key(self) -> RSAKey:
        """The key that signs now (ID tokens are signed with it too)."""
        return self._keys.signing_key()

    def public_keys(self) -> list[dict[str, object]]:
        """Every verifying key as a public JWK, for the JWKS document."""
        return self._keys.public_jwks()

    def issue(self, subject: str, scopes: Iterable[str], lifetime: int,
              client_id: str = CLI_CLIENT) -> tuple[str, AccessToken]:
        """A signed token and its claims."""
        now = int(self._clock())
        claims = AccessToken(subject, frozenset(scopes), secrets.token_hex(16), now,
                             now + lifetime, client_id)
        key = self._keys.signing_key()
        header = {"alg": ALGORITHM, "kid": key.kid, "typ": TOKEN_TYPE}
        payload = {"iss": self.issuer, "sub": claims.subject, "aud": self.audience,
                   "scope": " ".join(sorted(claims.scopes)), "exp": claims.expires_at,
                   "iat": claims.issued_at, "jti": claims.token_id,
                   "client_id": claims.client_id}
        return jwt.encode(header, payload, key, algorithms=[ALGORITHM]), claims

    def _key(self, obj: GuestProtocol) -> RSAKey:
        headers = obj.headers()
        if headers.get("typ") != TOKEN_TYPE:
            raise TokenRejected("not_an_access_token")
        kid = headers.get("kid")
        key = self._keys.verifying_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenRejected("unknown_key")
        return key

    def validate(self, token: str, protocol: str) -> AccessToken:
        """The claims of a token that opens `protocol`, else TokenRejected."""
        claims = self.claims(token)
        if scope_for(protocol) not in claims.scopes:
            raise TokenRejected("insufficient_scope")
        return claims

    def claims(self, token: str) -> AccessToken:
        """The claims of a valid token whatever doors it opens (userinfo, introspection),
        else TokenRejected."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise TokenRejected("malformed")
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            self._claims.validate(decoded.claims)
        except TokenRejected:
            raise
        except JoseError as error:
            raise TokenRejected(error.error or "invalid") from None
        except (ValueError, TypeError, KeyError):
            raise TokenRejected("malformed") from None
        claims = decoded.claims
        scope, client_id = claims["scope"], claims.get("client_id", "")
        if not isinstance(scope, str) or not isinstance(client_id, str):
            raise TokenRejected("malformed")
        if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
            raise TokenRejected("malformed")
        return AccessToken(claims["sub"], frozenset(scope.split()), claims["jti"],
                           claims["iat"], claims["exp"], client_id)
