"""Parse one imaptest test group: its header, its steps (command blocks with the tagged result
and untagged replies they must produce) and the messages of its mbox.

File format (ImapTest wiki, "Scripted tests"): `key: value` header lines, an empty line, then
commands. A command line is `[conn ]["tagN" ][ok|no|bad|"" ]command`; when the result is not
on the command line it follows the untagged lines, as `[tagN ]ok ...`. Untagged lines start
with `* ` (must come), `! ` (must not come) or `? ` (may come). `{{{` at the end of a line
opens a literal closed by a line starting with `}}}` (`~{{{` a binary one). A group that never
logs out gets a final `ok logout` on its first connection, as imaptest does.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from imaptest.tokens import Arg, Kind, Line, Literal, Part, atom, parse_args

DEFAULT_MBOX = "default.mbox"
NOT_GROUPS = frozenset({"README.md", "AUTHORS", "COPYING", "COPYING.MIT"})
MAX_CONNECTIONS = 100

REPLY_OK = (atom("ok"),)
REPLY_NO = (atom("no"),)
REPLY_BAD = (atom("bad"),)
REPLY_ANY = (Arg(Kind.ATOM, ""),)
_REPLIES = {"ok": REPLY_OK, "no": REPLY_NO, "bad": REPLY_BAD, '""': REPLY_ANY}

FLAG_DIRECTIVES = ("$!unordered", "$!noextra", "$!ignore=\\recent", "$!ignore=$HasAttachment",
                   "$!ignore=$HasNoAttachment")


class ScriptError(ValueError):
    """A group file that cannot be run; the message names the file and line."""


class Existence(enum.Enum):
    MUST = "*"
    MUST_NOT = "!"
    MAY = "?"


class StartState(enum.IntEnum):
    """Where setup leaves the connections before the first step (header `state:`)."""

    NONAUTH = 0
    AUTH = 1  # logged in, every imaptest* mailbox deleted
    CREATED = 2  # ... and the test mailbox created, empty
    APPENDED = 3  # ... and the group's messages appended
    SELECTED = 4  # ... and selected on every connection (the default)


_STATES = {"nonauth": StartState.NONAUTH, "auth": StartState.AUTH,
           "created": StartState.CREATED, "appended": StartState.APPENDED,
           "selected": StartState.SELECTED}


@dataclass(frozen=True)
class Expected:
    """An untagged reply the step must (`*`), must not (`!`) or may (`?`) produce."""

    existence: Existence
    pattern: tuple[Arg, ...]
    line: int


@dataclass
class Command:
    line: int  # 0 for the logout imaptest adds
    tag: int  # the script's tagN, 0 when untagged in the script
    text: Line
    reply: tuple[Arg, ...] | None  # the expected tagged result (a prefix of the real one)

    @property
    def plain(self) -> str:
        """The command as written, literals shown as {N}: for messages."""
        return "".join(p if isinstance(p, str) else f"{{{len(p.data)}}}" for p in self.text)


@dataclass
class Step:
    """One command block: commands pipelined on one connection, then their replies."""

    connection: int  # 0-based
    commands: list[Command] = field(default_factory=list)
    untagged: list[Expected] = field(default_factory=list)
    ordered: bool = False
    sleep_ms: int = 0
    output: list[str] = field(default_factory=list)
    expects_bye: bool = False

    @property
    def line(self) -> int:
        return self.commands[0].line if self.commands else 0

    def replies_pending(self) -> int:
        return sum(1 for c in self.commands if c.reply is None)


@dataclass
class Script:
    name: str
    path: Path
    mbox: Path
    capabilities: tuple[str, ...] = ()
    connections: int = 1
    users: dict[int, str] = field(default_factory=dict)  # `user N:` headers, by N
    needs_user2: bool = False
    messages: int | None = 0  # None: all of the mbox
    state: StartState = StartState.SELECTED
    ignore_extra_untagged: bool = True
    banner_check: bool = False
    steps: list[Step] = field(default_factory=list)

    @property
    def extension(self) -> bool:
        """imaptest counts groups with a `capabilities:` header as extension tests."""
        return bool(self.capabilities)


# ---------------------------------------------------------------------------- files

def group_names(directory: Path) -> list[str]:
    """The test groups of a directory, sorted as imaptest runs them."""
    return sorted(p.name for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".mbox")
                  and p.name not in NOT_GROUPS)


def load_group(directory: Path, name: str) -> Script:
    path = directory / name
    if not path.is_file():
        raise ScriptError(f"{path}: no such test group")
    return parse_script(path)


def parse_script(path: Path) -> Script:
    own_mbox = path.with_name(path.name + ".mbox")
    script = Script(name=path.name, path=path,
                    mbox=own_mbox if own_mbox.exists() else path.with_name(DEFAULT_MBOX))
    _Parser(script).parse(path.read_bytes().decode("latin-1"))
    return script


# ---------------------------------------------------------------------------- lines

def _logical_lines(path: Path, text: str) -> Iterator[tuple[int, Line | None]]:
    """(line number, parts) per logical line, None for an empty line; comments dropped and
    `{{{ ... }}}` blocks turned into Literals (text blocks with CRLF line ends, binary ones
    byte for byte; the line end before `}}}` is not part of the literal)."""
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    i = 0
    while i < len(raw):
        number, line = i + 1, raw[i].removesuffix("\r")
        i += 1
        if line == "":
            yield number, None
            continue
        if line.startswith("#"):
            continue
        if not line.endswith("{{{"):
            yield number, (line,)
            continue
        parts: list[Part] = []
        head = line[:-3]
        while True:
            binary = head.endswith("~")
            parts.append(head[:-1] if binary else head)
            body: list[str] = []
            while True:
                if i >= len(raw):
                    raise ScriptError(f"{path} line {number}: literal block is never closed")
                i += 1
                if raw[i - 1].startswith("}}}"):
                    break
                body.append(raw[i - 1])
            parts.append(Literal(("\n" if binary else "\r\n").join(body), binary))
            rest = raw[i - 1][3:].removesuffix("\r")
            if not rest.endswith("{{{"):
                parts.append(rest)
                break
            head = rest[:-3]
        yield number, tuple(p for p in parts if p != "")


# ---------------------------------------------------------------------------- parser

class _Parser:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.step: Step | None = None
        self.number = 0

    def fail(self, message: str) -> ScriptError:
        return ScriptError(f"{self.script.path} line {self.number}: {message}")

    def parse(self, text: str) -> None:
        header = True
        for number, line in _logical_lines(self.script.path, text):
            self.number = number
            if line is None:
                header = False
            elif header:
                self._header(line)
            else:
                self._command_line(line)
        if self.step is None:
            raise ScriptError(f"{self.script.path}: no commands in file")
        missing = next((c for c in self.step.commands if c.reply is None), None)
        if missing is not None:
            raise ScriptError(f"{self.script.path}: command at line {missing.line} has no "
                              "tagged result")
        self._add_logout()

    # -- header

    def _header(self, line: Line) -> None:
        text = "".join(p for p in line if isinstance(p, str))
        key, colon, value = text.partition(":")
        if not colon:
            raise self.fail("header line without ':'")
        key, value = key.strip().lower(), value.strip()
        script = self.script
        if key == "capabilities":
            script.capabilities = tuple(value.split())
        elif key == "connections":
            count = int(value) if value.isdigit() else 0
            if not 0 < count <= MAX_CONNECTIONS:
                raise self.fail(f"bad connection count {value!r}")
            script.connections = count
        elif key == "ignore_extra_untagged":
            script.ignore_extra_untagged = value.startswith("y")
        elif key.startswith("user ") and key[5:].isdigit() and int(key[5:]) > 0:
            if value in ("$user2", "${user2}"):  # imaptest's second configured user
                script.needs_user2 = True
            else:
                script.users[int(key[5:])] = value
        elif key == "messages":
            script.messages = None if value == "all" else int(value) if value.isdigit() else 0
        elif key == "state":
            if value.lower() not in _STATES:
                raise self.fail(f"unknown state {value!r}")
            script.state = _STATES[value.lower()]
        else:
            raise self.fail(f"unknown header {key!r}")

    # -- commands and replies

    def _command_line(self, line: Line) -> None:
        head = line[0] if isinstance(line[0], str) else ""
        rest = line[1:] if isinstance(line[0], str) else line
        step = self.step
        if step is not None:
            if head.startswith("!sleep "):
                step.sleep_ms = int(head[7:].strip().removesuffix("ms").strip() or 0)
                return
            if head.startswith("!output "):
                step.output.append(head[8:])
                return
            if head == "!ordered":
                step.ordered = True
                return
            if head[:2] in ("* ", "! ", "? "):
                self._untagged(step, Existence(head[0]), (head[2:], *rest))
                return
            if step.replies_pending() and self._tagged_result(step, head, rest):
                return
        if step is None or not step.replies_pending():
            step = self.step = Step(connection=0)
            self.script.steps.append(step)
        connection, head = self._connection_prefix(head)
        if step.commands and connection != step.connection:
            raise self.fail("all pipelined commands must use the same connection")
        step.connection = connection
        self.script.connections = max(self.script.connections, connection + 1)
        reply, tag, head = _result_prefix(head)
        if tag == 0 and step.replies_pending():
            raise self.fail("missing tagged result of the previous command")
        if tag and any(c.tag == tag for c in step.commands):
            raise self.fail(f"tag{tag} reused within one command block")
        if not step.commands and head[:2] in ("* ", "! ", "? "):
            self.script.banner_check = True
            self._untagged(step, Existence(head[0]), (head[2:], *rest))
            return
        text = tuple(p for p in (head, *rest) if p != "")
        step.commands.append(Command(self.number, tag, text, reply))

    def _connection_prefix(self, head: str) -> tuple[int, str]:
        if self.script.connections == 1:
            return 0, head
        word, _, remainder = head.partition(" ")
        if not word.isdigit() or int(word) == 0:
            raise self.fail("missing connection number")
        if int(word) > MAX_CONNECTIONS:
            raise self.fail("too many connections")
        return int(word) - 1, remainder

    def _tagged_result(self, step: Step, head: str, rest: Line) -> bool:
        """A deferred tagged result (`[conn ][tagN ]ok ...`) for a command of this step."""
        text = head
        match = re.match(r"(\d+) (.*)", head, re.S)
        if self.script.connections > 1 and match:
            if int(match[1]) - 1 != step.connection:
                return False
            text = match[2]
        reply, tag, _ = _result_prefix(text)
        if reply is None:
            return False
        command = next((c for c in step.commands if c.tag == tag), None)
        if command is None:
            raise self.fail("tagged result for an unknown tag")
        if command.reply is not None:
            raise self.fail("command already has a tagged result")
        args = self._pattern((text, *rest))
        command.reply = args[1:] if tag else args
        return True

    def _untagged(self, step: Step, existence: Existence, line: Line) -> None:
        pattern = self._pattern(line)
        name = _reply_name(pattern)
        if name[:3].upper() == "BYE":
            if existence is Existence.MAY:
                raise self.fail("'? BYE' is not supported")
            if existence is Existence.MUST:
                step.expects_bye = True
        step.untagged.append(Expected(existence, pattern, self.number))

    def _pattern(self, line: Line) -> tuple[Arg, ...]:
        try:
            return expected_reply(line)
        except ValueError as exc:
            raise self.fail(str(exc)) from None

    def _add_logout(self) -> None:
        script = self.script
        for step in script.steps:
            if step.expects_bye or any(c.plain.lower() == "logout" for c in step.commands):
                return
        script.steps.append(Step(connection=0, commands=[Command(0, 0, ("logout",), REPLY_OK)]))


def expected_reply(line: Line) -> tuple[Arg, ...]:
    """An expected reply as a script states it, with imaptest's implicit directives added.
    Raises ValueError (ArgSyntaxError) on a line that does not parse."""
    args = parse_args(line)
    return _directives(args, _reply_name(args), (), None)


def _result_prefix(text: str) -> tuple[tuple[Arg, ...] | None, int, str]:
    """Split `[tagN ][ok|no|bad|"" ]rest` into (expected result or None, N or 0, rest)."""
    tag = 0
    word, space, remainder = text.partition(" ")
    if word[:3].lower() == "tag" and space and word[3:].isdigit() and int(word[3:]) > 0:
        tag, text = int(word[3:]), remainder
        word, space, remainder = text.partition(" ")
    reply = _REPLIES.get(word.lower())
    if reply is None:
        return None, tag, text
    return reply, tag, remainder


def _reply_name(args: tuple[Arg, ...]) -> str:
    """FETCH in `* 1 FETCH ...` or `* $1 fetch`, STATUS in `* STATUS ...`."""
    first = args[0].atom() if args else None
    if first is None:
        return ""
    if first[:1] == "$" or first[:1].isdigit():
        second = args[1].atom() if len(args) > 1 else None
        return second or ""
    return first


# ---------------------------------------------------------------------------- $! directives

def _directive_count(items: tuple[Arg, ...]) -> tuple[int, int]:
    """(number of leading $! directives, chain size of an explicit $!unordered=N)."""
    count, chain = 0, 1
    for arg in items:
        text = arg.atom()
        if text is None or not text.startswith("$!"):
            break
        name = text[2:]
        if name.startswith("unordered"):
            if name[9:] and not (name[9] == "=" and name[10:].isdigit() and int(name[10:])):
                raise ValueError(f"broken directive {text}")
            chain = int(name[10:]) if name[9:] else 1
        elif not (name in ("ordered", "noextra", "extra") or name.startswith(("ignore=", "ban="))):
            raise ValueError(f"unknown directive {text}")
        count += 1
    return count, chain


def _default_directives(reply: str, path: tuple[int, ...],
                        prev_atom: str | None) -> tuple[str, ...]:
    """imaptest's implicit directives: LIST/LSUB flags and STATUS/FETCH items in any order,
    FETCH FLAGS as an exact set apart from \\Recent and $Has(No)Attachment."""
    if reply in ("list", "lsub") and path == (1,):
        return ("$!unordered",)
    if reply in ("status", "fetch") and path == (2,):
        return ("$!unordered=2",)
    if reply == "fetch" and len(path) == 2 and path[0] == 2 and prev_atom == "flags":
        return FLAG_DIRECTIVES
    return ()


def _directives(items: tuple[Arg, ...], reply: str, path: tuple[int, ...],
                prev_atom: str | None) -> tuple[Arg, ...]:
    count, chain = _directive_count(items)
    if count == 0 and path:
        items = tuple(Arg(Kind.ATOM, d) for d in _default_directives(reply.lower(), path,
                                                                     prev_atom)) + items
    if (len(items) - count) % chain:
        raise ValueError(f"list of {len(items) - count} items does not split into chains of "
                         f"{chain}")
    out: list[Arg] = []
    previous: str | None = None
    for index, arg in enumerate(items):
        if arg.atom() is not None:
            previous = arg.text.lower()
        if arg.kind is Kind.LIST:
            position = index if chain == 1 else index % chain
            arg = Arg(Kind.LIST, items=_directives(arg.items, reply, (*path, position), previous))
        out.append(arg)
    return tuple(out)


# ---------------------------------------------------------------------------- mbox

@dataclass(frozen=True)
class MboxMessage:
    data: str  # CRLF line ends
    internaldate: str  # IMAP date-time from the From_ line


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FROM_LINE = re.compile(
    r"From \S+\s+[A-Za-z]{3} (?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2}) "
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?: (?P<tz1>[+-]\d{4}))? (?P<year>\d{4})"
    r"(?: (?P<tz2>[+-]\d{4}))?\s*$")


def _internaldate(from_line: str) -> str | None:
    match = _FROM_LINE.match(from_line)
    if match is None or match["mon"].title() not in _MONTHS:
        return None
    hms = [*match["time"].split(":"), "00"]
    clock = ":".join(f"{int(x):02d}" for x in hms[:3])
    zone = match["tz1"] or match["tz2"] or "+0000"
    return f"{int(match['day']):02d}-{match['mon'].title()}-{match['year']} {clock} {zone}"


def read_mbox(path: Path) -> list[MboxMessage]:
    """The messages of an mbox as imaptest appends them: the lines after each From_ line
    (one whose date parses) up to the next, each ending CRLF; no >From unquoting."""
    messages: list[MboxMessage] = []
    date: str | None = None
    lines: list[str] = []
    raw = path.read_bytes().decode("latin-1").split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    for line in raw:
        line = line.removesuffix("\r")
        next_date = _internaldate(line) if line.startswith("From ") else None
        if next_date is None:
            if date is None:
                raise ScriptError(f"{path}: not an mbox file (no From_ line first)")
            lines.append(line)
            continue
        if date is not None and lines:
            messages.append(MboxMessage("".join(x + "\r\n" for x in lines), date))
        date, lines = next_date, []
    if date is not None and lines:
        messages.append(MboxMessage("".join(x + "\r\n" for x in lines), date))
    if not messages:
        raise ScriptError(f"{path}: no messages")
    return messages
