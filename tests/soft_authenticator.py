"""A software WebAuthn authenticator for tests: a real ES256 key (cryptography), "none"
attestation, a sign count; it answers registration and authentication options exactly as a
browser passes an authenticator's answer on (the JSON py_webauthn parses), so the server's
verification is the real one."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url

UP, UV, AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    origin: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, options: dict[str, Any]) -> bytes:
        return json.dumps({"type": kind, "challenge": options["challenge"],
                           "origin": self.origin, "crossOrigin": False}).encode()

    def register(self, options_json: str) -> str:
        """The answer to `navigator.credentials.create(options)`."""
        options = json.loads(options_json)
        rp_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + \
            self.credential_id + self._cose_key()
        auth_data = rp_hash + bytes([UP | AT]) + struct.pack(">I", self.sign_count) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({
            "id": b64(self.credential_id), "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64(self._client_data("webauthn.create", options)),
                         "attestationObject": b64(attestation)}})

    def assert_(self, options_json: str, rp_id: str | None = None) -> str:
        """The answer to `navigator.credentials.get(options)`, counting one more use (also
        when the options do not list this credential, as a hostile client may)."""
        options = json.loads(options_json)
        self.sign_count += 1
        rp_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        auth_data = rp_hash + bytes([UP]) + struct.pack(">I", self.sign_count)
        client_data = self._client_data("webauthn.get", options)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": b64(self.credential_id), "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64(client_data),
                         "authenticatorData": b64(auth_data), "signature": b64(signature),
                         "userHandle": None}})
