"""WebAuthn as a second factor (py_webauthn): the two ceremonies, without storage.

The relying party is the OAuth issuer (`auth.oauth_issuer`, by default
`https://<server.hostname>`): its host is the RP ID and its scheme and host the one origin a
browser's answer must come from, since the sign-in pages are served there. Registration asks
for no attestation ("none": any authenticator, nothing about the user's device is kept) and
ES256, EdDSA or RS256 keys; authentication needs user presence, not verification (a factor
next to the password, not a passkey). Options go to the browser as the JSON that
`navigator.credentials.create()` / `.get()` take after base64url decoding; its answer comes
back as the JSON the library parses. Anything malformed, forged, for another origin or RP,
or with a sign count that did not grow is `WebAuthnRejected`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import webauthn
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

TIMEOUT_MS = 120_000
_MALFORMED = (WebAuthnException, ValueError, KeyError, TypeError, IndexError)


class WebAuthnRejected(Exception):
    """The browser's answer does not verify; the message says why (for the log, not the user)."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str

    @classmethod
    def of_issuer(cls, issuer: str, name: str) -> RelyingParty:
        parts = urlsplit(issuer)
        if not parts.hostname:
            raise ValueError(f"auth.oauth_issuer {issuer!r} has no host name for WebAuthn")
        return cls(parts.hostname, name, f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class NewCredential:
    credential_id: str  # base64url, as browsers name it
    public_key: bytes  # COSE
    sign_count: int


def _descriptors(credential_ids: list[str]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c))
            for c in credential_ids]


def registration_options(rp: RelyingParty, user_handle: bytes, address: str,
                         existing: list[str]) -> tuple[str, bytes]:
    """(options JSON, challenge) for registering a new authenticator of this account."""
    options = webauthn.generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=user_handle, user_name=address,
        timeout=TIMEOUT_MS, exclude_credentials=_descriptors(existing))
    return webauthn.options_to_json(options), options.challenge


def verify_registration(rp: RelyingParty, answer: str, challenge: bytes) -> NewCredential:
    try:
        verified = webauthn.verify_registration_response(
            credential=answer, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin)
    except _MALFORMED as exc:
        raise WebAuthnRejected(str(exc) or type(exc).__name__) from None
    return NewCredential(bytes_to_base64url(verified.credential_id),
                         verified.credential_public_key, verified.sign_count)


def authentication_options(rp: RelyingParty, credential_ids: list[str]) -> tuple[str, bytes]:
    """(options JSON, challenge) asking for one of these credentials."""
    options = webauthn.generate_authentication_options(
        rp_id=rp.id, timeout=TIMEOUT_MS, allow_credentials=_descriptors(credential_ids))
    return webauthn.options_to_json(options), options.challenge


def answered_credential(answer: str) -> str:
    """The credential id (base64url) a browser's answer names, before any verification."""
    try:
        parsed = json.loads(answer)
        credential_id = parsed["id"] if isinstance(parsed, dict) else None
    except (ValueError, KeyError):
        credential_id = None
    if not isinstance(credential_id, str) or not 0 < len(credential_id) <= 1400:
        raise WebAuthnRejected("the answer names no credential")
    return credential_id


def verify_authentication(rp: RelyingParty, answer: str, challenge: bytes, public_key: bytes,
                          sign_count: int) -> int:
    """The authenticator's new sign count, once its signature over the challenge verifies."""
    try:
        verified = webauthn.verify_authentication_response(
            credential=answer, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=public_key,
            credential_current_sign_count=sign_count)
    except _MALFORMED as exc:
        raise WebAuthnRejected(str(exc) or type(exc).__name__) from None
    return int(verified.new_sign_count)
