"""One framed IMAP command -> a typed command from `commands`, or a `ParseError`.

`parse_command(raw, utf8=...)` never raises: anything that breaks the grammar of RFC 9051,
RFC 3501 or a supported extension (see `mailgate.protocols.imap`) becomes
`ParseError(tag, message)`, answered `tag BAD message`. Unknown commands are parse errors
too. The parser checks syntax only: whether a command is allowed in the
session's state, or a mailbox exists, is the session's business.

This module holds the dispatch and the commands of the any, not-authenticated and
authenticated states; `selected` holds the message commands, `notify` NOTIFY's grammar.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Final

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap import notify, selected
from mailgate.protocols.imap.arguments import Arguments
from mailgate.protocols.imap.framer import RawCommand
from mailgate.protocols.imap.reader import MAX_NUMBER64, CommandSyntaxError, tag_of, utf8_text
from mailgate.protocols.imap.search import MONTHS
from mailgate.protocols.imap.sequences import SequenceSet, parse_sequence_set

SPECIAL_USES: Final = {
    name.upper(): name
    for name in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
}
STATUS_ITEMS: Final = frozenset(
    {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT"}
    | {"HIGHESTMODSEQ", "APPENDLIMIT"}
)
LIST_SELECTION: Final = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURNS: Final = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]+={0,2}|=)")
_DATE_TIME = re.compile(
    rb" ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) "
    rb"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")

_Handler = Callable[[Arguments, bool], c.Command]


def parse_command(raw: RawCommand, *, utf8: bool = False) -> c.Command | c.ParseError:
    """The command in `raw`; `utf8` once IMAP4rev2 or UTF8=ACCEPT is enabled (mailbox names
    are UTF-8 then, modified UTF-7 before)."""
    tag = tag_of(raw.lines[0])
    if tag == "*":
        return c.ParseError("*", "missing or invalid tag")
    arguments = Arguments(raw, tag, utf8)
    arguments.skip(len(tag))
    try:
        arguments.space()
        name = arguments.keyword()
        uid = name == "UID"
        if uid:
            arguments.space()
            name = arguments.keyword()
        handler = (_UID_COMMANDS if uid else _COMMANDS).get(name)
        if handler is None:
            raise CommandSyntaxError(f"unknown command {'UID ' if uid else ''}{name[:40]}")
        command = handler(arguments, uid)
        arguments.end()
    except CommandSyntaxError as error:
        return c.ParseError(tag, str(error), error.status)
    return command


def continuation_line(raw: RawCommand) -> str | None:
    """A continuation answer (from `next_event(plain_line=True)`) as text: an AUTHENTICATE
    response or IDLE's DONE (compare with `.upper() == "DONE"`); None if not plain ASCII."""
    line = raw.lines[0]
    if raw.literals or not line.isascii() or _CONTROL.search(line):
        return None
    return line.decode("ascii")


def _no_arguments(kind: Callable[[str], c.Command]) -> _Handler:
    return lambda a, _: kind(a.tag)


# -- any state / not authenticated -------------------------------------------------------------


def _authenticate(a: Arguments, _: bool) -> c.Authenticate:
    a.space()
    mechanism = a.keyword()
    if not a.maybe_space():
        return c.Authenticate(a.tag, mechanism)
    response = a.match(_BASE64, "a base64 initial response")[0].decode("ascii")
    return c.Authenticate(a.tag, mechanism, response)


def _login(a: Arguments, _: bool) -> c.Login:
    a.space()
    username = a.text("the user name")
    a.space()
    return c.Login(a.tag, username, a.text("the password"))


def _id(a: Arguments, _: bool) -> c.Id:
    a.space()
    if not a.at(b"("):
        if a.keyword() != "NIL":
            raise CommandSyntaxError("expected a parameter list or NIL")
        return c.Id(a.tag, None)

    def pair() -> tuple[str, str | None]:
        name = utf8_text(a.string(), "an ID field")
        a.space()
        value = a.nstring()
        return name, None if value is None else utf8_text(value, "an ID value")

    return c.Id(a.tag, tuple(a.parenthesised(pair)))


def _compress(a: Arguments, _: bool) -> c.Compress:
    a.space()
    if a.keyword() != "DEFLATE":
        raise CommandSyntaxError("unsupported compression mechanism")
    return c.Compress(a.tag)


def _enable(a: Arguments, _: bool) -> c.Enable:
    a.space()
    capabilities = [a.keyword()]
    while a.maybe_space():
        capabilities.append(a.keyword())
    return c.Enable(a.tag, tuple(capabilities))


# -- authenticated ------------------------------------------------------------------------------


def _select(a: Arguments, _: bool, *, read_only: bool = False) -> c.Select:
    mailbox = a.space_mailbox()
    condstore = False
    qresync = None
    if a.maybe_space():
        for name, value in a.parenthesised(lambda: _select_parameter(a), empty=False):
            condstore |= name == "CONDSTORE"
            qresync = value or qresync
    return c.Select(a.tag, mailbox, read_only, condstore, qresync)


def _examine(a: Arguments, uid: bool) -> c.Select:
    return _select(a, uid, read_only=True)


def _select_parameter(a: Arguments) -> tuple[str, c.QresyncParameters | None]:
    """CONDSTORE, or QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)]) (RFC 7162)."""
    name = a.keyword()
    if name == "CONDSTORE":
        return name, None
    if name != "QRESYNC":
        raise CommandSyntaxError(f"unknown SELECT parameter {name[:40]}")
    a.space()
    a.expect(b"(", '"("')
    uidvalidity = a.nz_number()
    a.space()
    modseq = a.nz_number(MAX_NUMBER64)
    known_uids = sequences = uids = None
    seq_match = a.maybe_space()
    if seq_match and not a.at(b"("):
        known_uids = _known_set(a)
        seq_match = a.maybe_space()
    if seq_match:
        a.expect(b"(", '"("')
        sequences = _known_set(a)
        a.space()
        uids = _known_set(a)
        a.expect(b")", '")"')
    a.expect(b")", '")"')
    return name, c.QresyncParameters(uidvalidity, modseq, known_uids, sequences, uids)


def _known_set(a: Arguments) -> SequenceSet:
    known = parse_sequence_set(a.sequence_text(), allow_saved=False)
    if known.uses_star:
        raise CommandSyntaxError('"*" is not allowed in QRESYNC sets')
    return known


def _create(a: Arguments, _: bool) -> c.Create:
    mailbox = a.space_mailbox()
    uses: list[str] = []
    if a.maybe_space():
        a.expect(b"(", '"("')
        if a.keyword() != "USE":
            raise CommandSyntaxError("unknown CREATE parameter")
        a.space()
        uses = a.parenthesised(lambda: _special_use(a))
        a.expect(b")", '")"')
    return c.Create(a.tag, mailbox, tuple(uses))


def _special_use(a: Arguments) -> str:
    """A use-attr (RFC 6154); unknown ones are kept for the session's NO [USEATTR]."""
    a.expect(b"\\", "a special use such as \\Sent")
    name = "\\" + a.atom().decode("ascii")
    return SPECIAL_USES.get(name.upper(), name)


def _delete(a: Arguments, _: bool) -> c.Delete:
    return c.Delete(a.tag, a.space_mailbox())


def _rename(a: Arguments, _: bool) -> c.Rename:
    mailbox = a.space_mailbox()
    return c.Rename(a.tag, mailbox, a.space_mailbox())


def _subscribe(a: Arguments, _: bool) -> c.Subscribe:
    return c.Subscribe(a.tag, a.space_mailbox())


def _unsubscribe(a: Arguments, _: bool) -> c.Unsubscribe:
    return c.Unsubscribe(a.tag, a.space_mailbox())


def _list(a: Arguments, _: bool) -> c.List:
    """LIST [(selection)] reference (pattern / (patterns)) [RETURN (options)]."""
    a.space()
    selection: frozenset[str] = frozenset()
    extended = a.at(b"(")
    if extended:
        selection = frozenset(a.parenthesised(a.keyword))
        if not selection <= LIST_SELECTION:
            raise CommandSyntaxError("unknown LIST selection option")
        if "RECURSIVEMATCH" in selection and not selection & {"SUBSCRIBED", "SPECIAL-USE"}:
            raise CommandSyntaxError("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE")
        a.space()
    reference = a.reference_or_pattern(a.astring())
    a.space()
    extended |= a.at(b"(")
    patterns = tuple(a.one_or_list(a.pattern))
    status_items: list[tuple[str, ...]] = []

    def return_option() -> str:
        option = a.keyword()
        if option not in LIST_RETURNS:
            raise CommandSyntaxError(f"unknown LIST return option {option[:40]}")
        if option == "STATUS":
            a.space()
            status_items.append(_status_items(a))
        return option

    returns: frozenset[str] = frozenset()
    if a.maybe_space():
        extended = True
        if a.keyword() != "RETURN":
            raise CommandSyntaxError("expected RETURN")
        a.space()
        returns = frozenset(a.parenthesised(return_option))
    items = status_items[-1] if status_items else ()
    return c.List(a.tag, reference, patterns, selection, returns, items, extended)


def _lsub(a: Arguments, _: bool) -> c.Lsub:
    a.space()
    reference = a.reference_or_pattern(a.astring())
    a.space()
    return c.Lsub(a.tag, reference, a.pattern())


def _status(a: Arguments, _: bool) -> c.Status:
    mailbox = a.space_mailbox()
    a.space()
    return c.Status(a.tag, mailbox, _status_items(a))


def _status_items(a: Arguments) -> tuple[str, ...]:
    items = tuple(a.parenthesised(a.keyword, empty=False))
    if not set(items) <= STATUS_ITEMS:
        raise CommandSyntaxError("unknown STATUS item")
    return items


def _append(a: Arguments, _: bool) -> c.Append:
    """APPEND mailbox 1*([flags] [date-time] (literal / literal8 / CATENATE (parts)))."""
    mailbox = a.space_mailbox()
    messages = [_append_message(a)]
    while not a.at_end():
        messages.append(_append_message(a))
    return c.Append(a.tag, mailbox, tuple(messages))


def _append_message(a: Arguments) -> c.AppendMessage:
    a.space()
    flags: tuple[str, ...] = ()
    if a.at(b"("):
        flags = a.flag_list()
        a.space()
    internal_date = None
    if a.at(b'"'):
        internal_date = _date_time(a.quoted())
        a.space()
    if a.at_literal():
        data, binary = a.literal(binary=True)
        return c.AppendMessage(flags, internal_date, data, binary)
    if a.keyword() != "CATENATE":
        raise CommandSyntaxError("expected the message as a literal, or CATENATE")
    a.space()
    parts = a.parenthesised(lambda: _catenate_part(a), empty=False)
    return c.AppendMessage(flags, internal_date, catenate=tuple(parts))


def _catenate_part(a: Arguments) -> c.CatenateText | c.CatenateUrl:
    kind = a.keyword()
    a.space()
    if kind == "TEXT":
        return c.CatenateText(*a.literal(binary=True))
    if kind == "URL":
        return c.CatenateUrl(a.text("the URL"))
    raise CommandSyntaxError("CATENATE parts are TEXT or URL")


def _date_time(text: bytes) -> dt.datetime:
    """date-time, e.g. "17-Jul-1996 02:44:25 -0700" (the quotes already removed)."""
    match = _DATE_TIME.fullmatch(text)
    month = match[2].upper().decode() if match else ""
    if match is None or month not in MONTHS:
        raise CommandSyntaxError('expected a date-time like "17-Jul-1996 02:44:25 -0700"')
    day, year, hour, minute, second = (int(match[i]) for i in (1, 3, 4, 5, 6))
    offset = dt.timedelta(hours=int(match[8]), minutes=int(match[9]))
    try:
        zone = dt.timezone(-offset if match[7] == b"-" else offset)
        return dt.datetime(year, MONTHS.index(month) + 1, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise CommandSyntaxError("no such date-time") from None


def _getquota(a: Arguments, _: bool) -> c.GetQuota:
    a.space()
    return c.GetQuota(a.tag, a.text("the quota root"))


def _getquotaroot(a: Arguments, _: bool) -> c.GetQuotaRoot:
    return c.GetQuotaRoot(a.tag, a.space_mailbox())


def _setquota(a: Arguments, _: bool) -> c.SetQuota:
    a.space()
    root = a.text("the quota root")
    a.space()

    def limit() -> tuple[str, int]:
        name = a.keyword()
        a.space()
        return name, a.number(MAX_NUMBER64)

    return c.SetQuota(a.tag, root, tuple(a.parenthesised(limit)))


_COMMANDS: Final[dict[str, _Handler]] = {
    "CAPABILITY": _no_arguments(c.Capability),
    "NOOP": _no_arguments(c.Noop),
    "LOGOUT": _no_arguments(c.Logout),
    "STARTTLS": _no_arguments(c.StartTls),
    "CHECK": _no_arguments(c.Check),
    "CLOSE": _no_arguments(c.Close),
    "UNSELECT": _no_arguments(c.Unselect),
    "IDLE": _no_arguments(c.Idle),
    "NAMESPACE": _no_arguments(c.Namespace),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ID": _id,
    "COMPRESS": _compress,
    "ENABLE": _enable,
    "SELECT": _select,
    "EXAMINE": _examine,
    "CREATE": _create,
    "DELETE": _delete,
    "RENAME": _rename,
    "SUBSCRIBE": _subscribe,
    "UNSUBSCRIBE": _unsubscribe,
    "LIST": _list,
    "LSUB": _lsub,
    "STATUS": _status,
    "NOTIFY": notify.notify,
    "APPEND": _append,
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _getquotaroot,
    "SETQUOTA": _setquota,
    "EXPUNGE": selected.expunge,
    "SEARCH": selected.search,
    "SORT": selected.sort,
    "THREAD": selected.thread,
    "CANCELUPDATE": selected.cancelupdate,
    "FETCH": selected.fetch,
    "STORE": selected.store,
    "COPY": selected.copy,
    "MOVE": selected.move,
}
_UID_COMMANDS: Final[dict[str, _Handler]] = {
    name: _COMMANDS[name]
    for name in ("COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD")
}
