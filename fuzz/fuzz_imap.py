"""atheris fuzz target for the sans-IO IMAP framer and command parser.

Feeds arbitrary bytes, split into arbitrary chunks, through a CommandFramer (small limits,
LITERAL+ or LITERAL-; smaller ones until a LOGIN, as before sign-in) and parses every
framed command (IMAP4rev1 or UTF-8 names), reading the line after IDLE or AUTHENTICATE as
a continuation answer, as the session will. Checks
that: nothing raises; framed commands respect the limits; every error is one printable
ASCII line with a known status and a tag that is "*" or the command's own; every mailbox
name parsed can be written back in a reply; sequence sets resolve; and the outcome does not
depend on how the input was chunked.

    .venv/bin/python fuzz/fuzz_imap.py -max_total_time=60

libFuzzer reads the IMAP keywords in fuzz/imap.dict unless another -dict= is given.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from mailgate.protocols.imap import commands as c
    from mailgate.protocols.imap import wire
    from mailgate.protocols.imap.framer import (
        NEED_DATA,
        CommandFramer,
        FramingError,
        Limits,
        NeedContinuation,
        Received,
    )
    from mailgate.protocols.imap.parser import continuation_line, parse_command
    from mailgate.protocols.imap.sequences import SequenceSet

STATUSES = ("BAD", "NO [CANNOT]")
PREAUTH = Limits(line=200, literal=100, command=300)


def run(chunks: list[bytes], limits: Limits, utf8: bool) -> list[object]:
    framer = CommandFramer(PREAUTH)
    signed_in = False
    outcome: list[object] = []
    plain_line = False
    for chunk in chunks:
        framer.receive_data(chunk)
        while (event := framer.next_event(plain_line=plain_line)) is not NEED_DATA:
            outcome.append(event)
            if isinstance(event, NeedContinuation | FramingError):
                check_tag(event.tag)
                continue
            assert isinstance(event, Received)
            check_framed(event, limits if signed_in else PREAUTH)
            if plain_line:
                outcome.append(continuation_line(event.command))
                plain_line = False
                continue
            command = parse_command(event.command, utf8=utf8)
            outcome.append(command)
            check_command(command, event, utf8)
            if isinstance(command, c.Login) and not signed_in:
                framer.use_limits(limits)
                signed_in = True
            plain_line = isinstance(command, c.Idle) or (
                isinstance(command, c.Authenticate) and command.initial_response is None
            )
        if framer.buffered > limits.line + 2:
            raise AssertionError(f"{framer.buffered} octets buffered")
    return outcome


def check_framed(event: Received, limits: Limits) -> None:
    lines, literals = event.command.lines, event.command.literals
    if len(lines) != len(literals) + 1 or any(len(line) > limits.line for line in lines):
        raise AssertionError(f"badly framed: {event!r}")
    if any(len(literal) > limits.literal for literal in literals):
        raise AssertionError("literal over the limit")


def check_tag(tag: str) -> None:
    if not tag or not tag.isascii() or not tag.isprintable() or " " in tag:
        raise AssertionError(f"unsafe tag {tag!r}")


def check_command(command: c.Command | c.ParseError, event: Received, utf8: bool) -> None:
    line, tag = event.command.lines[0], command.tag.encode("ascii")
    if command.tag != "*" and line != tag and not line.startswith(tag + b" "):
        raise AssertionError(f"tag {command.tag!r} is not the line's")
    if isinstance(command, c.ParseError):
        check_tag(command.tag)
        if command.status not in STATUSES:
            raise AssertionError(f"status {command.status!r}")
        if not command.message.isascii() or not command.message.isprintable():
            raise AssertionError(f"unsafe message {command.message!r}")
        return
    for name in ("mailbox", "new_name"):
        if isinstance(value := getattr(command, name, None), str):
            wire.render(value)
            wire.mailbox(value, utf8=utf8)
    messages = getattr(command, "messages", None)
    if isinstance(messages, SequenceSet) and not messages.saved:
        messages.resolve(10)


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    limits = Limits(line=200, literal=300, command=800, literal_minus=provider.ConsumeBool())
    utf8 = provider.ConsumeBool()
    cuts = provider.ConsumeIntListInRange(provider.ConsumeIntInRange(0, 8), 0, 4096)
    payload = provider.ConsumeBytes(provider.remaining_bytes())
    points = sorted(cut % (len(payload) + 1) for cut in cuts)
    chunks = [payload[a:b] for a, b in zip([0, *points], [*points, len(payload)], strict=True)]
    whole = run([payload], limits, utf8)
    if run(chunks, limits, utf8) != whole:
        raise AssertionError("the outcome depends on how the input was chunked")


def main() -> None:
    argv = sys.argv
    if not any(arg.startswith("-dict=") for arg in argv):  # IMAP words reach deep faster
        argv = [*argv, f"-dict={Path(__file__).with_name('imap.dict')}"]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
