"""Properties of the SASL decoders, shared by the hypothesis tests and fuzz/fuzz_sasl.py.

Whatever a client sends, a mechanism answers with a Challenge, Credentials or Rejected, or
raises SaslError (whose text is one printable line, safe to show the client); nothing else.
"""

from __future__ import annotations

import base64

from mailgate.auth.sasl import (
    MECHANISMS,
    Challenge,
    Credentials,
    Rejected,
    SaslError,
    create_mechanism,
)


def check_exchange(name: str, responses: list[bytes], initial: bool) -> None:
    """Run one exchange of `name` with these raw client responses (base64-encoded here)."""
    mechanism = create_mechanism(name)
    assert mechanism is not None
    encoded = [base64.b64encode(r).decode() for r in responses]
    try:
        step = mechanism.start(encoded[0] if initial and encoded else None)
        for response in encoded[1 if initial else 0:]:
            if not isinstance(step, Challenge):
                break
            step = mechanism.respond(response)
    except SaslError as error:
        text = str(error)
        assert text and text.isprintable(), text
        return
    assert isinstance(step, Challenge | Credentials | Rejected)
    if isinstance(step, Credentials):
        assert isinstance(step.username, str) and isinstance(step.secret, str)


def check_raw_line(name: str, line: str) -> None:
    """A raw client line (not necessarily base64) never breaks a mechanism."""
    mechanism = create_mechanism(name)
    assert mechanism is not None
    try:
        step = mechanism.start(None)
        assert isinstance(step, Challenge)
        mechanism.respond(line)
    except SaslError as error:
        assert str(error).isprintable()


def check_token_error(name: str, payload: bytes, acknowledgement: bytes) -> None:
    """A bearer mechanism refused by the gate: JSON error challenge, then Rejected."""
    mechanism = create_mechanism(name)
    assert mechanism is not None
    try:
        step = mechanism.start(base64.b64encode(payload).decode() or "=")
    except SaslError:
        return
    if not isinstance(step, Credentials):
        return
    challenge = mechanism.refused("invalid_token", "mail.imap")
    assert challenge is not None and challenge.data.startswith(b'{"status":"invalid_token"')
    answer = mechanism.respond(base64.b64encode(acknowledgement).decode())
    assert isinstance(answer, Rejected)


NAMES = tuple(MECHANISMS)
