"""The typed IMAP commands `parse_command` returns, one frozen dataclass per command.

Conventions: every command has its `tag`; `uid=True` marks the `UID` form of COPY, MOVE,
FETCH, STORE, SEARCH, SORT, THREAD (and `Expunge.uids` is set only for UID EXPUNGE).
Mailbox names are decoded `str` ("INBOX" in any case is "INBOX"); LIST/LSUB references and
patterns are decoded the same way but left as written. Keywords and option names are
upper-case; flags keep their spelling except system flags, which are canonical
("\\Seen"). Strings from the client (LOGIN, ID, search values) are `str`; message data
(APPEND, CATENATE TEXT) is `bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailgate.protocols.imap.fetch import FetchItem
from mailgate.protocols.imap.search import SearchKey
from mailgate.protocols.imap.sequences import SequenceSet


@dataclass(frozen=True, slots=True)
class ParseError:
    """The line is not a valid command: answer `f"{tag} {status} {message}"`.

    `tag` is "*" when no tag could be read. `status` is "BAD", or "NO [CANNOT]" for a
    mailbox name the session's encoding cannot spell (invalid modified UTF-7, say), which
    Dovecot and the imaptest scripts treat as a failure, not a syntax error.
    """

    tag: str
    message: str
    status: str = "BAD"


# -- any state ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    tag: str


@dataclass(frozen=True, slots=True)
class Noop:
    tag: str


@dataclass(frozen=True, slots=True)
class Logout:
    tag: str


@dataclass(frozen=True, slots=True)
class Id:
    """ID (RFC 2971): `parameters` None for NIL, else (field, value or None) pairs."""

    tag: str
    parameters: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True, slots=True)
class Compress:
    """COMPRESS DEFLATE (RFC 4978); the only mechanism accepted."""

    tag: str
    mechanism: str = "DEFLATE"


# -- not authenticated ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTls:
    tag: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """AUTHENTICATE; `initial_response` (SASL-IR) is the base64 text as sent, "=" for empty.

    Hand it to `auth.sasl` (`mechanism.start(initial_response)`), as POP3's AUTH does.
    """

    tag: str
    mechanism: str
    initial_response: str | None = None


@dataclass(frozen=True, slots=True)
class Login:
    tag: str
    username: str
    password: str


# -- authenticated ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enable:
    tag: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QresyncParameters:
    """SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)])), RFC 7162."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    known_sequences: SequenceSet | None = None  # with known_sequence_uids: seq-match-data
    known_sequence_uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Select:
    """SELECT, or EXAMINE when `read_only`."""

    tag: str
    mailbox: str
    read_only: bool = False
    condstore: bool = False
    qresync: QresyncParameters | None = None


@dataclass(frozen=True, slots=True)
class Create:
    """CREATE, with the special uses of CREATE (USE (...)) (RFC 6154)."""

    tag: str
    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename:
    tag: str
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class List:
    """LIST, basic or extended (RFC 5258, RFC 5819, RFC 6154).

    `selection`: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE (RECURSIVEMATCH only with
    SUBSCRIBED or SPECIAL-USE). `returns`: SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS; with
    STATUS, `status_items` holds the STATUS items. `extended` is True when the client used
    any extended syntax (options or several patterns), which changes the reply's shape.
    """

    tag: str
    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    status_items: tuple[str, ...] = ()
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Lsub:
    tag: str
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace:
    tag: str


@dataclass(frozen=True, slots=True)
class Status:
    """STATUS; `items` upper-case: MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT
    HIGHESTMODSEQ APPENDLIMIT."""

    tag: str
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatenateText:
    """A TEXT part of CATENATE (RFC 4469): literal data (`binary` for a literal8)."""

    data: bytes
    binary: bool = False


@dataclass(frozen=True, slots=True)
class CatenateUrl:
    """A URL part of CATENATE: an IMAP URL (RFC 5092) to resolve, as sent."""

    url: str


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of APPEND: either `data` (a literal; `binary` for literal8, RFC 3516)
    or `catenate` parts (RFC 4469)."""

    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None
    data: bytes | None = None
    binary: bool = False
    catenate: tuple[CatenateText | CatenateUrl, ...] | None = None


@dataclass(frozen=True, slots=True)
class Append:
    """APPEND of one message or, with MULTIAPPEND (RFC 3502), several, all or none."""

    tag: str
    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True)
class Idle:
    """IDLE: answer "+ idling", then read the DONE line (`framer.next_event(plain_line=True)`)."""

    tag: str


@dataclass(frozen=True, slots=True)
class NotifyGroup:
    """One event group of NOTIFY SET (RFC 5465 §3): which mailboxes, which events.

    `filter`: SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE or
    MAILBOXES, the last two with their `mailboxes`. `events` spell the RFC's names
    ("MessageNew"), an unknown event as sent; () for NONE. `fetch`: the FETCH items of
    MessageNew (SELECTED and SELECTED-DELAYED only).
    """

    filter: str
    events: tuple[str, ...]
    mailboxes: tuple[str, ...] = ()
    fetch: tuple[FetchItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Notify:
    """NOTIFY NONE (no `groups`) or NOTIFY SET [STATUS] groups (RFC 5465)."""

    tag: str
    groups: tuple[NotifyGroup, ...] = ()
    status: bool = False


@dataclass(frozen=True, slots=True)
class GetQuota:
    tag: str
    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota:
    """SETQUOTA; `limits` are (resource name upper-case, limit) pairs."""

    tag: str
    root: str
    limits: tuple[tuple[str, int], ...]


# -- selected -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    tag: str


@dataclass(frozen=True, slots=True)
class Close:
    tag: str


@dataclass(frozen=True, slots=True)
class Unselect:
    tag: str


@dataclass(frozen=True, slots=True)
class Expunge:
    """EXPUNGE, or UID EXPUNGE (UIDPLUS) when `uids` is set."""

    tag: str
    uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class SearchReturn:
    """RETURN (...) of ESEARCH (RFC 4731) and CONTEXT=SEARCH (RFC 5267).

    `options`: MIN MAX ALL COUNT SAVE CONTEXT UPDATE PARTIAL; an empty RETURN () is read as
    ALL, as RFC 4731 §3.1 says. `partial` is the PARTIAL range, low <= high (negative
    numbers count from the end, RFC 9394).
    """

    options: frozenset[str]
    partial: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Search:
    """SEARCH; `returns` None asks for the classic untagged SEARCH reply."""

    tag: str
    key: SearchKey
    uid: bool = False
    charset: str | None = None
    returns: SearchReturn | None = None


@dataclass(frozen=True, slots=True)
class SortCriterion:
    key: str  # ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort:
    """SORT (RFC 5256), with ESORT's RETURN options (RFC 5267)."""

    tag: str
    criteria: tuple[SortCriterion, ...]
    charset: str
    key: SearchKey
    uid: bool = False
    returns: SearchReturn | None = None


@dataclass(frozen=True, slots=True)
class Thread:
    """THREAD (RFC 5256); `algorithm` ORDEREDSUBJECT, REFERENCES or REFS."""

    tag: str
    algorithm: str
    charset: str
    key: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class CancelUpdate:
    """CANCELUPDATE (RFC 5267): stop the updates of these search tags."""

    tag: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fetch:
    """FETCH; macros are expanded into `items`. CHANGEDSINCE and VANISHED per RFC 7162."""

    tag: str
    messages: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    changed_since: int | None = None
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Store:
    """STORE; `mode` "" replaces the flags, "+" adds, "-" removes."""

    tag: str
    messages: SequenceSet
    mode: str
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchanged_since: int | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    tag: str
    messages: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    tag: str
    messages: SequenceSet
    mailbox: str
    uid: bool = False


Command = (
    Capability | Noop | Logout | Id | Compress | StartTls | Authenticate | Login | Enable
    | Select | Create | Delete | Rename | Subscribe | Unsubscribe | List | Lsub | Namespace
    | Status | Append | Idle | Notify | GetQuota | GetQuotaRoot | SetQuota | Check | Close
    | Unselect | Expunge | Search | Sort | Thread | CancelUpdate | Fetch | Store | Copy | Move
)  # fmt: skip
