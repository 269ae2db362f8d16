"""DKIM-signing a submitted message for its sender's domain, before it is stored or queued,
so whatever relays it later sends the signed octets."""

from __future__ import annotations

from pathlib import Path

import dkim

from mailgate.mail_auth.dkimkeys import signing_key

CANONICALIZATION = (b"relaxed", b"relaxed")


def signed(content: bytes, domain: str, data_dir: Path) -> bytes:
    """`content` with a DKIM-Signature for `domain` on top; unchanged when it has no key."""
    key = signing_key(data_dir, domain)
    if key is None:
        return content
    header = dkim.sign(content, key.selector.encode(), key.domain.encode(), key.private_pem,
                       canonicalize=CANONICALIZATION, linesep=b"\r\n")
    return header + content
