"""atheris fuzz target for the sans-IO POP3 core.

Feeds arbitrary bytes, split into arbitrary chunks, through a core driven by a scripted
backend (every request answered, sign-in succeeds for alice/secret), and checks that:
nothing raises, every answer is CRLF-framed, no bare LF escapes, nothing but [IN-USE] says
l-o-c-k outside message bodies, and the output does not depend on how input was chunked.

    .venv/bin/python fuzz/fuzz_pop3.py -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from mailgate.protocols.pop3.backend import MaildropEntry, Principal
    from mailgate.protocols.pop3.core import Limits, Pop3Core
    from mailgate.protocols.pop3.events import (
        Authenticate,
        Close,
        CommitDeletes,
        LoadMessage,
        NeedData,
        OpenMaildrop,
    )
    from mailgate.protocols.refusals import Refusal

ALICE = Principal(1, "alice@example.org", "password")
MESSAGES = {
    1: b"Subject: a\r\n\r\n.dot\r\nbody\r\n",
    2: b"Subject: b\n\nbare\n.lf\n",
    3: b".",
}
ENTRIES = [MaildropEntry(mid, f"u{mid}", len(body)) for mid, body in MESSAGES.items()]
LIMITS = Limits(command_line=64, sasl_line=128, bad_commands=10, auth_failures=3)


def run(chunks: list[bytes], loopback: bool, in_use: bool) -> bytes:
    core = Pop3Core(tls_available=True, tls_active=False, loopback=loopback, limits=LIMITS)
    out = bytearray(b"".join(core.data_to_send()))
    for chunk in chunks:
        core.receive_data(chunk)
        while True:
            event = core.next_event()
            out += b"".join(core.data_to_send())
            if isinstance(event, NeedData | Close):
                break
            if isinstance(event, Authenticate):
                ok = (event.username, event.secret) == ("alice", "secret")
                core.authenticated(ALICE if ok else Refusal("credentials"))
            elif isinstance(event, OpenMaildrop):
                core.maildrop_opened(None if in_use else ENTRIES)
            elif isinstance(event, LoadMessage):
                core.message_loaded(MESSAGES[event.message_id])
            elif isinstance(event, CommitDeletes):
                core.deletes_committed()
        if isinstance(event, Close):
            break
    return bytes(out)


def check_framing(output: bytes) -> None:
    if not output.endswith(b"\r\n") or b"\n" in output.replace(b"\r\n", b""):
        raise AssertionError(f"badly framed output: {output[-200:]!r}")
    for line in output.split(b"\r\n"):
        if b"lock" in line.lower() and not line.startswith(b"-ERR [IN-USE] "):
            raise AssertionError(f"fetchmail would read a mailbox-lock conflict: {line!r}")


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    loopback = provider.ConsumeBool()
    in_use = provider.ConsumeBool()
    cuts = provider.ConsumeIntListInRange(provider.ConsumeIntInRange(0, 8), 0, 4096)
    payload = provider.ConsumeBytes(provider.remaining_bytes())
    points = sorted(cut % (len(payload) + 1) for cut in cuts)
    chunks = [payload[a:b] for a, b in zip([0, *points], [*points, len(payload)], strict=True)]
    whole = run([payload], loopback, in_use)
    check_framing(whole)
    if run(chunks, loopback, in_use) != whole:
        raise AssertionError("output depends on how the input was chunked")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
