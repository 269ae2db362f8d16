"""Every client command of Dovecot's imaptest scripts goes through the IMAP framer and parser.

The scripts (shared/testdata/imaptest, format in its README.md and in imaptest's
test-parser.c) state for each command the tagged reply a correct server gives. Whatever the
server would answer OK or NO must parse into a command; what it must answer BAD must be a
ParseError. Groups needing a capability the grammar does not cover (URLAUTH) are
skipped, as imaptest skips them on a server without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailgate.protocols.imap.commands import ParseError
from mailgate.protocols.imap.framer import CommandFramer, Limits, NeedContinuation, Received
from mailgate.protocols.imap.parser import parse_command

SCRIPTS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "imaptest"
NOT_SCRIPTS = {"README.md", "COPYING", "COPYING.MIT", "AUTHORS"}
UNSUPPORTED = {"URLAUTH", "URLAUTH=BINARY"}  # no grammar for them: BAD, as allowed
VARIABLES = {
    "mailbox": "imaptest",
    "mailbox_url": "imaptest",
    "sep": ".",
    "user": "testuser@example.org",
    "username": "testuser",
    "domain": "example.org",
    "password": "secret",
}
MESSAGE = b"From: imaptest@example.org\r\nSubject: appended\r\n\r\nbody\r\n"
_REPLY = re.compile(r"(?:(\d+) )?(?:(tag\d+) )?(ok|no|bad|\"\")(?: |$)", re.IGNORECASE)
_VARIABLE = re.compile(rb"\$(\$|\{([^}]*)\}|([A-Za-z0-9_]*))")

script_files = sorted(
    path
    for path in (SCRIPTS.iterdir() if SCRIPTS.is_dir() else ())
    if path.is_file() and path.suffix != ".mbox" and path.name not in NOT_SCRIPTS
)


@dataclass
class ScriptCommand:
    line: int
    text: bytes  # the command after its tag, literals as {n}CRLF+octets
    reply: str | None  # ok, no, bad, "" (any); None until a later reply line gives it
    tag: str | None


def read_script(path: Path) -> tuple[dict[str, str], list[ScriptCommand]]:
    """The header and the commands of one script, as imaptest's test-parser.c reads them."""
    header: dict[str, str] = {}
    commands: list[ScriptCommand] = []
    pending: list[ScriptCommand] = []
    in_header = True
    for number, line in _logical_lines(path.read_bytes()):
        text = line.decode("latin-1")
        if in_header:
            if not text:
                in_header = False
            else:
                key, _, value = text.partition(":")
                header[key.strip().lower()] = value.strip()
            continue
        if not text or text.startswith(("#", "* ", "! ", "? ")) or text.startswith("!"):
            continue
        connections = int(header.get("connections", "1"))
        match = _REPLY.match(text)
        if pending and match:  # the tagged reply of a command written without one
            for command in pending:
                if command.tag == match[2]:
                    command.reply = match[3].lower()
            pending = [command for command in pending if command.reply is None]
            continue
        if connections > 1:
            line = line.split(b" ", 1)[1]
            text = text.split(" ", 1)[1]
        match = _REPLY.match(text)
        tag_match = re.match(r"(tag\d+) ", text)
        tag = match[2] if match else tag_match[1] if tag_match else None
        reply = match[3].lower() if match else None
        skip = match.end() if match else tag_match.end() if tag_match else 0
        command = ScriptCommand(number, line[skip:], reply, tag)
        commands.append(command)
        if reply is None:
            pending.append(command)
    return header, commands


def _logical_lines(data: bytes) -> list[tuple[int, bytes]]:
    """Lines with their {{{ ... }}} blocks turned into literals ({n} or ~{n} for ~{{{)."""
    out: list[tuple[int, bytes]] = []
    lines = data.split(b"\n")
    index = 0
    while index < len(lines) - 1 or (index == len(lines) - 1 and lines[index]):
        start = index
        line = lines[index]
        index += 1
        while line.endswith(b"{{{"):
            binary = line.endswith(b"~{{{")
            line = line[: -4 if binary else -3]
            block: list[bytes] = []
            while not lines[index].startswith(b"}}}"):
                raw = lines[index]
                crlf = raw.endswith(b"\r") or not binary  # a ~{{{ block keeps bare LFs
                block.append(raw.removesuffix(b"\r") + (b"\r\n" if crlf else b"\n"))
                index += 1
            content = b"".join(block)
            content = content[: -2 if content.endswith(b"\r\n") else -1] if content else content
            line += b"%s{%d}\r\n%s%s" % (
                b"~" if binary else b"",
                len(content),
                content,
                lines[index][3:],
            )
            index += 1
        out.append((start + 1, line))
    return out


def expand(text: bytes) -> bytes:
    """Script variables replaced: $$ is "$", known names by VARIABLES, others by a number."""

    def value(match: re.Match[bytes]) -> bytes:
        if match[1] == b"$":
            return b"$"
        name = (match[2] if match[2] is not None else match[3]).decode()
        if not name:
            return b"$"
        return VARIABLES.get(name, "1").encode()

    return _VARIABLE.sub(value, text)


def with_message(text: bytes) -> bytes:
    """An APPEND without message data gets one, as imaptest adds the next mbox message."""
    if not text.lower().startswith(b"append") or text.endswith(b"}") or b"{" in text:
        return text
    if text.lower() == b"append":
        text = b"append imaptest"
    return text + b" {%d}\r\n%s" % (len(MESSAGE), MESSAGE)


def frame(command: bytes) -> list[Received]:
    framer = CommandFramer(Limits())
    framer.receive_data(command + b"\r\n")
    received: list[Received] = []
    while True:
        event = framer.next_event()
        if isinstance(event, Received):
            received.append(event)
        elif not isinstance(event, NeedContinuation):
            return received


@pytest.mark.skipif(not SCRIPTS.is_dir(), reason=f"imaptest scripts not found at {SCRIPTS}")
@pytest.mark.parametrize("script", script_files or [SCRIPTS], ids=lambda path: path.name)
def test_every_imaptest_command_parses_as_the_script_expects(script: Path) -> None:
    header, commands = read_script(script)
    required = set(header.get("capabilities", "").upper().split())
    if required & UNSUPPORTED:
        pytest.skip(f"needs {' '.join(sorted(required & UNSUPPORTED))}")
    assert commands, "no commands read"
    for number, command in enumerate(commands):
        text = b"t%d %s" % (number, with_message(expand(command.text)))
        received = frame(text)
        assert len(received) == 1, f"line {command.line}: framed as {received!r}"
        parsed = parse_command(received[0].command)
        where = f"{script.name} line {command.line}: {text[:200]!r}"
        status = parsed.status if isinstance(parsed, ParseError) else "OK"
        if command.reply == "bad":
            assert status == "BAD", f"{where} should be BAD, parsed as {parsed}"
        elif command.reply == "no":
            assert status != "BAD", f"{where}: {parsed}"
        else:
            assert status == "OK", f"{where}: {parsed}"
