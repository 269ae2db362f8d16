"""The IMAP command parser: every command of the scope, RFC examples, errors, properties.

Commands go through the real framer first (`parse` below), literals included, as the
session will feed them.
"""

from __future__ import annotations

import datetime as dt
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.fetch import FetchAttribute, FetchBinarySize, FetchBody, Section
from mailgate.protocols.imap.framer import (
    NEED_DATA,
    CommandFramer,
    Limits,
    NeedContinuation,
    RawCommand,
    Received,
)
from mailgate.protocols.imap.parser import continuation_line, parse_command
from mailgate.protocols.imap.reader import MAX_DEPTH
from mailgate.protocols.imap.search import (
    SearchAge,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchMessages,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSize,
    SearchText,
)
from mailgate.protocols.imap.sequences import SAVED_RESULT, SequenceSet

MESSAGE = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    b"Subject: afternoon meeting\r\nTo: mooch@owatagu.siam.edu.example\r\n\r\nHello Joe\r\n"
)
ALL_MESSAGES = SequenceSet(((1, None),))
FLAGS = FetchAttribute("FLAGS")
UID = FetchAttribute("UID")


def parse(wire: bytes | str, *, utf8: bool = False) -> c.Command | c.ParseError:
    """Frame `wire` (one command, CRLF added) and parse it."""
    data = wire.encode() if isinstance(wire, str) else wire
    framer = CommandFramer()
    framer.receive_data(data + b"\r\n")
    commands = []
    while (event := framer.next_event()) is not NEED_DATA:
        assert isinstance(event, Received | NeedContinuation), event
        if isinstance(event, Received):
            commands.append(event.command)
    assert len(commands) == 1, commands
    return parse_command(commands[0], utf8=utf8)


def error(wire: bytes | str, *, utf8: bool = False) -> c.ParseError:
    result = parse(wire, utf8=utf8)
    assert isinstance(result, c.ParseError), result
    return result


def literal(data: bytes, marker: bytes = b"") -> bytes:
    return b"{%d%s}\r\n%s" % (len(data), marker, data)


def seq(*ranges: tuple[int | None, int | None]) -> SequenceSet:
    return SequenceSet(tuple(ranges))


# -- any state and not authenticated (RFC 3501 §6.1-6.2, RFC 9051) ----------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("a001 CAPABILITY", c.Capability("a001")),
        ("a002 noop", c.Noop("a002")),
        ("A023 LOGOUT", c.Logout("A023")),
        ("a002 STARTTLS", c.StartTls("a002")),
        ("A001 AUTHENTICATE GSSAPI", c.Authenticate("A001", "GSSAPI")),
        (
            "a AUTHENTICATE plain dGVzdAB0ZXN0AHRlc3Q=",
            c.Authenticate("a", "PLAIN", "dGVzdAB0ZXN0AHRlc3Q="),
        ),
        ("a AUTHENTICATE PLAIN =", c.Authenticate("a", "PLAIN", "=")),
        ("a001 LOGIN SMITH SESAME", c.Login("a001", "SMITH", "SESAME")),
        ('a LOGIN "fred" "pass \\"word\\" \\\\"', c.Login("a", "fred", 'pass "word" \\')),
        ("a ID NIL", c.Id("a", None)),
        (
            'a023 ID ("name" "sodr" "version" "19.34" "vendor" NIL)',
            c.Id("a023", (("name", "sodr"), ("version", "19.34"), ("vendor", None))),
        ),
        ("a COMPRESS deflate", c.Compress("a")),
        ("t2 ENABLE CONDSTORE X-GOOD-IDEA", c.Enable("t2", ("CONDSTORE", "X-GOOD-IDEA"))),
        ("t3 enable utf8=accept IMAP4rev2", c.Enable("t3", ("UTF8=ACCEPT", "IMAP4REV2"))),
        ("A1 NAMESPACE", c.Namespace("A1")),
        ("a IDLE", c.Idle("a")),
        ("a]b NOOP", c.Noop("a]b")),
    ],
)
def test_commands_of_any_state(wire: str, expected: c.Command) -> None:
    assert parse(wire) == expected


def test_login_with_literals_synchronizing_and_not() -> None:
    assert parse(b"A001 LOGIN {11}\r\nFRED FOOBAR {7+}\r\nfat man") == c.Login(
        "A001", "FRED FOOBAR", "fat man"
    )
    assert parse("a LOGIN jürgen pässword".encode()) == c.Login("a", "jürgen", "pässword")


# -- authenticated state ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("A142 SELECT INBOX", c.Select("A142", "INBOX")),
        ("A142 SELECT inbox", c.Select("A142", "INBOX")),
        ("A932 EXAMINE blurdybloop", c.Select("A932", "blurdybloop", read_only=True)),
        ("a SELECT INBOX (CONDSTORE)", c.Select("a", "INBOX", condstore=True)),
        (
            "A03 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
            c.Select(
                "A03",
                "INBOX",
                qresync=c.QresyncParameters(
                    67890007, 20050715194045000, seq((41, 41), (43, 211), (214, 541))
                ),
            ),
        ),
        (
            "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997"
            " (5000,7500 15000,22500)))",
            c.Select(
                "B04",
                "INBOX",
                qresync=c.QresyncParameters(
                    67890007,
                    90060115194045000,
                    seq((1, 29997)),
                    seq((5000, 5000), (7500, 7500)),
                    seq((15000, 15000), (22500, 22500)),
                ),
            ),
        ),
        (
            "a EXAMINE x (QRESYNC (1 2 (3 4)) CONDSTORE)",
            c.Select(
                "a",
                "x",
                True,
                True,
                c.QresyncParameters(1, 2, None, seq((3, 3)), seq((4, 4))),
            ),
        ),
        ("A003 CREATE owatagusiam/", c.Create("A003", "owatagusiam/")),
        (
            "t3 CREATE MySpecial (USE (\\drafts \\Sent \\X-Mine))",
            c.Create("t3", "MySpecial", ("\\Drafts", "\\Sent", "\\X-Mine")),
        ),
        ("A683 DELETE blurdybloop", c.Delete("A683", "blurdybloop")),
        ("A683 RENAME blurdybloop sarasoop", c.Rename("A683", "blurdybloop", "sarasoop")),
        (
            "A002 SUBSCRIBE #news.comp.mail.mime",
            c.Subscribe("A002", "#news.comp.mail.mime"),
        ),
        ('A002 UNSUBSCRIBE "#news.comp.mail.mime"', c.Unsubscribe("A002", "#news.comp.mail.mime")),
        ('A101 LIST "" ""', c.List("A101", "", ("",))),
        ("A202 LIST ~/Mail/ %", c.List("A202", "~/Mail/", ("%",))),
        ('a LIST "" NIL', c.List("a", "", ("NIL",))),
        ('a LIST "" inbox*]', c.List("a", "", ("inbox*]",))),
        (
            'A02 LIST (SUBSCRIBED) "" "*"',
            c.List("A02", "", ("*",), frozenset({"SUBSCRIBED"}), extended=True),
        ),
        (
            'A04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (CHILDREN)',
            c.List(
                "A04",
                "",
                ("*",),
                frozenset({"SUBSCRIBED", "RECURSIVEMATCH"}),
                frozenset({"CHILDREN"}),
                extended=True,
            ),
        ),
        (
            'A05 LIST "" ("INBOX" "Drafts" "Sent/%")',
            c.List("A05", "", ("INBOX", "Drafts", "Sent/%"), extended=True),
        ),
        (
            'A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN) SPECIAL-USE)',
            c.List(
                "A01",
                "",
                ("%",),
                returns=frozenset({"STATUS", "SPECIAL-USE"}),
                status_items=("MESSAGES", "UNSEEN"),
                extended=True,
            ),
        ),
        (
            't1 LIST (SPECIAL-USE) "" "*"',
            c.List("t1", "", ("*",), frozenset({"SPECIAL-USE"}), extended=True),
        ),
        ('a LIST () "" x RETURN ()', c.List("a", "", ("x",), extended=True)),
        ('A002 LSUB "#news." "comp.mail.*"', c.Lsub("A002", "#news.", "comp.mail.*")),
        (
            "A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
            c.Status("A042", "blurdybloop", ("UIDNEXT", "MESSAGES")),
        ),
        (
            "a STATUS x (unseen deleted size recent highestmodseq appendlimit uidvalidity)",
            c.Status(
                "a",
                "x",
                (
                    "UNSEEN",
                    "DELETED",
                    "SIZE",
                    "RECENT",
                    "HIGHESTMODSEQ",
                    "APPENDLIMIT",
                    "UIDVALIDITY",
                ),
            ),
        ),
        ('A003 GETQUOTA ""', c.GetQuota("A003", "")),
        ("A003 GETQUOTAROOT INBOX", c.GetQuotaRoot("A003", "INBOX")),
        (
            'A001 SETQUOTA "" (STORAGE 512 message 1000)',
            c.SetQuota("A001", "", (("STORAGE", 512), ("MESSAGE", 1000))),
        ),
        ('A001 SETQUOTA "" ()', c.SetQuota("A001", "", ())),
    ],
)
def test_commands_of_the_authenticated_state(wire: str, expected: c.Command) -> None:
    assert parse(wire) == expected


def test_mailbox_names_are_modified_utf7_in_imap4rev1_and_utf8_once_enabled() -> None:
    assert parse("a SELECT Entw&APw-rfe") == c.Select("a", "Entwürfe")
    assert parse('a CREATE "a&-b"') == c.Create("a", "a&b")
    assert parse("a SELECT Entwürfe".encode(), utf8=True) == c.Select("a", "Entwürfe")
    assert parse('a CREATE "a&-b"', utf8=True) == c.Create("a", "a&-b")
    assert parse(b"a DELETE " + literal("日本".encode()), utf8=True) == c.Delete("a", "日本")


@pytest.mark.parametrize(
    ("wire", "utf8"),
    [
        ("a SELECT Entw&AP-rfe", False),  # not canonical
        ("a SELECT a&b", False),  # unterminated shift
        ("a CREATE &AGE-", False),  # "a" must stand for itself
        ("a RENAME x Entwürfe", False),  # 8-bit octets in IMAP4rev1
        ("a STATUS &2D0- (MESSAGES)", False),  # a lone surrogate
        ("a SELECT a&AAA-b", False),  # NUL, spelt in modified UTF-7
        ("a CREATE {3}\r\na\x01b", True),  # a control character in a literal
    ],
)
def test_names_no_mailbox_can_have_are_refused_with_no(wire: str, utf8: bool) -> None:
    result = error(wire.encode(), utf8=utf8)
    assert result.status == "NO [CANNOT]"
    assert result.message.startswith(("mailbox name is not valid", "mailbox names cannot"))


def test_invalid_utf8_names_are_refused_and_patterns_that_match_nothing_are_kept() -> None:
    assert error(b'a SELECT "\xff\xfe"', utf8=True).status == "NO [CANNOT]"
    # As in Dovecot, a pattern no name can match lists nothing rather than failing.
    assert parse('a LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*') == c.List(
        "a", "", ("!#$&'+,-.0123456789:;<=>?@^_`|[}%*",)
    )
    assert parse('a LSUB "&Jjo" *') == c.Lsub("a", "&Jjo", "*")


def test_append_one_message_with_flags_and_date() -> None:
    wire = b'A003 APPEND saved-messages (\\Seen $MDNSent) " 7-Feb-1994 21:52:25 -0800" ' + literal(
        MESSAGE
    )
    date = dt.datetime(1994, 2, 7, 21, 52, 25, tzinfo=dt.timezone(-dt.timedelta(hours=8)))
    assert parse(wire) == c.Append(
        "A003", "saved-messages", (c.AppendMessage(("\\Seen", "$MDNSent"), date, MESSAGE),)
    )
    assert parse(b"a APPEND x " + literal(MESSAGE, b"+")) == c.Append(
        "a", "x", (c.AppendMessage(data=MESSAGE),)
    )
    assert parse(b"a APPEND x () " + literal(b"")) == c.Append(
        "a", "x", (c.AppendMessage(data=b""),)
    )


def test_append_literal8_carries_binary_data() -> None:
    data = b"Content-Transfer-Encoding: binary\r\n\r\n\x00\xff\r\n"
    assert parse(b"a APPEND Drafts (\\Seen) ~" + literal(data)) == c.Append(
        "a", "Drafts", (c.AppendMessage(("\\Seen",), None, data, binary=True),)
    )


def test_multiappend_several_messages_in_one_command() -> None:
    second = MESSAGE.replace(b"afternoon", b"evening")
    wire = (
        b"A003 APPEND saved-messages (\\Seen) "
        + literal(MESSAGE)
        + b' (\\Seen) " 1-Jul-2002 22:21:46 -0700" '
        + literal(second)
        + b" "
        + literal(b"third", b"+")
    )
    command = parse(wire)
    assert isinstance(command, c.Append)
    assert [message.data for message in command.messages] == [MESSAGE, second, b"third"]
    assert command.messages[1].internal_date == dt.datetime(
        2002, 7, 1, 22, 21, 46, tzinfo=dt.timezone(-dt.timedelta(hours=7))
    )


def test_catenate_text_and_url_parts() -> None:
    header = b"Subject: x\r\n\r\n"
    wire = (
        b"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE "
        b'(URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER" TEXT '
        + literal(header)
        + b' URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME" TEXT ~'
        + literal(b"\x00")
        + b") CATENATE (URL /a/;uid=1)"
    )
    assert parse(wire) == c.Append(
        "A003",
        "Drafts",
        (
            c.AppendMessage(
                ("\\Seen", "\\Draft", "$MDNSent"),
                catenate=(
                    c.CatenateUrl("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"),
                    c.CatenateText(header),
                    c.CatenateUrl("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME"),
                    c.CatenateText(b"\x00", binary=True),
                ),
            ),
            c.AppendMessage(catenate=(c.CatenateUrl("/a/;uid=1"),)),
        ),
    )


# -- selected state ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("FXXZ CHECK", c.Check("FXXZ")),
        ("A341 CLOSE", c.Close("A341")),
        ("a UNSELECT", c.Unselect("a")),
        ("A202 EXPUNGE", c.Expunge("A202")),
        ("A003 UID EXPUNGE 3000:3002", c.Expunge("A003", seq((3000, 3002)))),
        ("A003 COPY 2:4 MEETING", c.Copy("A003", seq((2, 4)), "MEETING")),
        ("a UID COPY 1,*:7 inbox", c.Copy("a", seq((1, 1), (None, 7)), "INBOX", uid=True)),
        ("a UID MOVE 42:69 foo", c.Move("a", seq((42, 69)), "foo", uid=True)),
        ("a MOVE $ Trash", c.Move("a", SAVED_RESULT, "Trash")),
        ('a CANCELUPDATE "B01" {3}\r\nB02', c.CancelUpdate("a", ("B01", "B02"))),
    ],
)
def test_commands_of_the_selected_state(wire: str, expected: c.Command) -> None:
    assert parse(wire) == expected


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (
            "A003 STORE 2:4 +FLAGS (\\Deleted)",
            c.Store("A003", seq((2, 4)), "+", ("\\Deleted",)),
        ),
        (
            "a STORE 1 -flags.silent \\seen \\FLAGGED $Junk",
            c.Store("a", seq((1, 1)), "-", ("\\Seen", "\\Flagged", "$Junk"), silent=True),
        ),
        ("a STORE 1 FLAGS ()", c.Store("a", seq((1, 1)), "", ())),
        ("a STORE 1 +FLAGS NIL", c.Store("a", seq((1, 1)), "+", ("NIL",))),
        (
            "a UID STORE 1:* (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)",
            c.Store(
                "a",
                ALL_MESSAGES,
                "+",
                ("\\Deleted",),
                silent=True,
                uid=True,
                unchanged_since=12121230045,
            ),
        ),
        ("a STORE $ +FLAGS (\\Answered)", c.Store("a", SAVED_RESULT, "+", ("\\Answered",))),
    ],
)
def test_store(wire: str, expected: c.Store) -> None:
    assert parse(wire) == expected


@pytest.mark.parametrize(
    ("wire", "messages", "items"),
    [
        ("A999 UID FETCH 4827313:4828442 FLAGS", seq((4827313, 4828442)), (FLAGS,)),
        (
            "a FETCH 1 fast",
            seq((1, 1)),
            tuple(FetchAttribute(n) for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE")),
        ),
        (
            "a FETCH 1 ALL",
            seq((1, 1)),
            tuple(FetchAttribute(n) for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE")),
        ),
        (
            "a FETCH 1 Full",
            seq((1, 1)),
            tuple(
                FetchAttribute(n)
                for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")
            ),
        ),
        (
            "a FETCH 1:* (envelope bodystructure body uid modseq rfc822 rfc822.header rfc822.text)",
            ALL_MESSAGES,
            tuple(
                FetchAttribute(n)
                for n in (
                    "ENVELOPE",
                    "BODYSTRUCTURE",
                    "BODY",
                    "UID",
                    "MODSEQ",
                    "RFC822",
                    "RFC822.HEADER",
                    "RFC822.TEXT",
                )
            ),
        ),
        (
            "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
            seq((2, 4)),
            (FLAGS, FetchBody(Section((), "HEADER.FIELDS", ("DATE", "FROM")))),
        ),
        (
            'a FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS.NOT ("X-Spam" {4}\r\nList)]<0.2048>)',
            seq((1, 1)),
            (
                FetchBody(
                    Section((1, 2), "HEADER.FIELDS.NOT", ("X-SPAM", "LIST")), (0, 2048), peek=True
                ),
            ),
        ),
        (
            "a FETCH 3 (BODY[] BODY[TEXT] body[1] BODY[3.mime] BODY[2.header]"
            " BODY[4.1.text]<10.5>)",
            seq((3, 3)),
            (
                FetchBody(Section()),
                FetchBody(Section((), "TEXT")),
                FetchBody(Section((1,))),
                FetchBody(Section((3,), "MIME")),
                FetchBody(Section((2,), "HEADER")),
                FetchBody(Section((4, 1), "TEXT"), (10, 5)),
            ),
        ),
        (
            "a FETCH 4 (BINARY.SIZE[2] BINARY.PEEK[2] binary[] BINARY[1.2]<0.100>)",
            seq((4, 4)),
            (
                FetchBinarySize((2,)),
                FetchBody(Section((2,)), peek=True, binary=True),
                FetchBody(Section(), binary=True),
                FetchBody(Section((1, 2)), (0, 100), binary=True),
            ),
        ),
        ("A283 FETCH $ (UID)", SAVED_RESULT, (UID,)),
    ],
)
def test_fetch_items(wire: str, messages: SequenceSet, items: tuple[object, ...]) -> None:
    command = parse(wire)
    assert isinstance(command, c.Fetch), command
    assert (command.messages, command.items) == (messages, items)


def test_fetch_modifiers_changedsince_and_vanished() -> None:
    assert parse("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345)") == c.Fetch(
        "s100", seq((300, 500)), (FLAGS,), uid=True, changed_since=12345
    )
    assert parse("a103 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)") == c.Fetch(
        "a103", ALL_MESSAGES, (FLAGS,), uid=True, changed_since=12345, vanished=True
    )
    assert "VANISHED" in error("a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").message
    assert "VANISHED" in error("a UID FETCH 1:* (FLAGS) (VANISHED)").message


def test_section_spec_renders_as_replies_name_it() -> None:
    assert str(Section((1, 2), "HEADER.FIELDS", ("FROM", "TO"))) == "1.2.HEADER.FIELDS (FROM TO)"
    assert str(Section((3,), "MIME")) == "3.MIME"
    assert str(Section()) == ""


# -- SEARCH, SORT, THREAD -----------------------------------------------------------------------


def search_key(criteria: str | bytes, *, charset: str | None = None) -> object:
    prefix = f"a SEARCH CHARSET {charset} " if charset else "a SEARCH "
    data = criteria if isinstance(criteria, bytes) else criteria.encode()
    command = parse(prefix.encode() + data)
    assert isinstance(command, c.Search), command
    return command.key


@pytest.mark.parametrize(
    ("criteria", "key"),
    [
        ("ALL", SearchAll()),
        ("answered", SearchFlag("\\Answered")),
        ("DELETED", SearchFlag("\\Deleted")),
        ("DRAFT", SearchFlag("\\Draft")),
        ("FLAGGED", SearchFlag("\\Flagged")),
        ("RECENT", SearchFlag("\\Recent")),
        ("SEEN", SearchFlag("\\Seen")),
        ("UNANSWERED", SearchFlag("\\Answered", False)),
        ("UNDELETED", SearchFlag("\\Deleted", False)),
        ("UNFLAGGED", SearchFlag("\\Flagged", False)),
        ("UNSEEN", SearchFlag("\\Seen", False)),
        ("BCC boss", SearchText("BCC", "boss")),
        ("CC {3}\r\nann", SearchText("CC", "ann")),
        ("TO ann", SearchText("TO", "ann")),
        ("BODY ann", SearchText("BODY", "ann")),
        ("TEXT ann", SearchText("TEXT", "ann")),
        ("BEFORE 1-Jan-2000", SearchDate("INTERNAL", "BEFORE", dt.date(2000, 1, 1))),
        ("SENTON 29-Feb-2024", SearchDate("SENT", "ON", dt.date(2024, 2, 29))),
        ("SENTSINCE 1-Jan-2000", SearchDate("SENT", "SINCE", dt.date(2000, 1, 1))),
        ("*:5", SearchMessages(seq((None, 5)))),
        ("UNDRAFT", SearchFlag("\\Draft", False)),
        ("NEW", SearchAnd((SearchFlag("\\Recent"), SearchFlag("\\Seen", False)))),
        ("OLD", SearchFlag("\\Recent", False)),
        ("KEYWORD $Forwarded", SearchFlag("$Forwarded")),
        ("UNKEYWORD $Junk", SearchFlag("$Junk", False)),
        ('FROM "Smith"', SearchText("FROM", "Smith")),
        ("subject nil", SearchText("SUBJECT", "nil")),
        ('HEADER Message-ID "<a@b>"', SearchHeader("Message-ID", "<a@b>")),
        ("SINCE 1-Feb-1994", SearchDate("INTERNAL", "SINCE", dt.date(1994, 2, 1))),
        ('SENTBEFORE "31-dec-2023"', SearchDate("SENT", "BEFORE", dt.date(2023, 12, 31))),
        ("ON 09-Jan-2024", SearchDate("INTERNAL", "ON", dt.date(2024, 1, 9))),
        ("LARGER 10000", SearchSize(True, 10000)),
        ("SMALLER 5", SearchSize(False, 5)),
        ("2,4:7,9", SearchMessages(seq((2, 2), (4, 7), (9, 9)))),
        ("UID 1:*", SearchMessages(ALL_MESSAGES, uid=True)),
        ("$", SearchMessages(SAVED_RESULT)),
        ("UID $", SearchMessages(SAVED_RESULT, uid=True)),
        ("YOUNGER 3600", SearchAge(False, 3600)),
        ("OLDER 86400", SearchAge(True, 86400)),
        ("MODSEQ 620162338", SearchModSeq(620162338)),
        ('MODSEQ "/flags/$Junk" PRIV 0', SearchModSeq(0, "/flags/$Junk", "PRIV")),
        (
            'MODSEQ "/flags/\\\\draft" all 620162338',
            SearchModSeq(620162338, "/flags/\\draft", "ALL"),
        ),
        ("NOT SEEN", SearchNot(SearchFlag("\\Seen"))),
        (
            "OR FROM a (TO b CC c)",
            SearchOr(
                SearchText("FROM", "a"), SearchAnd((SearchText("TO", "b"), SearchText("CC", "c")))
            ),
        ),
        ("(DELETED)", SearchFlag("\\Deleted")),
        (
            'FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
            SearchAnd(
                (
                    SearchFlag("\\Flagged"),
                    SearchDate("INTERNAL", "SINCE", dt.date(1994, 2, 1)),
                    SearchNot(SearchText("FROM", "Smith")),
                )
            ),
        ),
    ],
)
def test_search_keys(criteria: str, key: object) -> None:
    assert search_key(criteria) == key


def test_search_strings_follow_the_charset() -> None:
    assert search_key(b"TEXT " + literal("naïve".encode()), charset="UTF-8") == SearchText(
        "TEXT", "naïve"
    )
    assert search_key(b'BODY "na\xefve"', charset="ISO-8859-1") == SearchText("BODY", "naïve")
    # A charset Python does not know still parses: refusing it is the session's NO [BADCHARSET].
    assert search_key(b"BODY x", charset="X-UNKNOWN") == SearchText("BODY", "x")
    assert search_key(b"BODY x", charset="zlib") == SearchText("BODY", "x")
    assert error(b"a SEARCH BODY \xff").message == "search string not valid in its charset"


def test_search_return_options() -> None:
    command = parse('A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert isinstance(command, c.Search)
    assert command.returns == c.SearchReturn(frozenset({"MIN", "COUNT"}))
    empty = parse("A283 SEARCH RETURN () FLAGGED")
    assert isinstance(empty, c.Search)
    assert empty.returns == c.SearchReturn(frozenset({"ALL"}))
    assert parse("a UID SEARCH RETURN (SAVE) CHARSET utf-8 UNDELETED") == c.Search(
        "a", SearchFlag("\\Deleted", False), True, "utf-8", c.SearchReturn(frozenset({"SAVE"}))
    )
    partial = parse("B283 SEARCH RETURN (PARTIAL 500:1 UPDATE CONTEXT) UNDELETED")
    assert isinstance(partial, c.Search)
    assert partial.returns == c.SearchReturn(frozenset({"PARTIAL", "UPDATE", "CONTEXT"}), (1, 500))
    negative = parse("a SEARCH RETURN (PARTIAL -1:-100) ALL")
    assert isinstance(negative, c.Search)
    assert negative.returns == c.SearchReturn(frozenset({"PARTIAL"}), (-100, -1))


def test_sort_and_thread() -> None:
    assert parse("A284 SORT (SUBJECT REVERSE DATE) UTF-8 ALL") == c.Sort(
        "A284",
        (c.SortCriterion("SUBJECT"), c.SortCriterion("DATE", reverse=True)),
        "UTF-8",
        SearchAll(),
    )
    assert parse("a UID SORT RETURN (COUNT MIN) (DISPLAYFROM) us-ascii UNSEEN") == c.Sort(
        "a",
        (c.SortCriterion("DISPLAYFROM"),),
        "us-ascii",
        SearchFlag("\\Seen", False),
        uid=True,
        returns=c.SearchReturn(frozenset({"COUNT", "MIN"})),
    )
    assert parse("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000") == c.Thread(
        "A283", "ORDEREDSUBJECT", "UTF-8", SearchDate("INTERNAL", "SINCE", dt.date(2000, 3, 5))
    )
    assert parse('a UID THREAD references US-ASCII TEXT "gewp"') == c.Thread(
        "a", "REFERENCES", "US-ASCII", SearchText("TEXT", "gewp"), uid=True
    )


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("a NOTIFYX SET STATUS", "unknown command NOTIFYX"),
        ("a XYZZY", "unknown command XYZZY"),
        ("a UID NOOP", "unknown command UID NOOP"),
        ("a", "expected a space between arguments"),
        ("a NOOP extra", "unexpected text at the end of the command"),
        ("a  NOOP", "expected a keyword"),
        ("a NOOP ", "unexpected text at the end of the command"),
        ("a SELECT", "expected a space between arguments"),
        ('a LOGIN "unterminated', "unterminated or invalid quoted string"),
        ('a LOGIN "bad \\escape" x', "unterminated or invalid quoted string"),
        ("a LOGIN ~{1}\r\nx y", "literal8 is not allowed here"),
        ("a LOGIN {1}\r\n\x00 y", "NUL in a literal (only literal8 may carry it)"),
        ("a FETCH 0 FLAGS", "invalid sequence set"),
        ("a FETCH 1:0 FLAGS", "invalid sequence set"),
        ("a FETCH 01 FLAGS", "invalid sequence set"),
        ("a FETCH 4294967296 FLAGS", "invalid sequence set"),
        ("a FETCH 1,,2 FLAGS", "invalid sequence set"),
        ("a FETCH 1:2:3 FLAGS", "invalid sequence set"),
        ("a FETCH 1,$ FLAGS", "invalid sequence set"),
        ("a FETCH 1 (ALL)", "unknown fetch attribute ALL"),
        ("a FETCH 1 (FLAGS X-GM-LABELS)", "unknown fetch attribute X-GM-LABELS"),
        ("a FETCH 1 ()", "empty list"),
        ("a FETCH 1 BODY[1.0]", "section part numbers start at 1"),
        ("a FETCH 1 BODY[MIME]", "invalid section"),
        ("a FETCH 1 BODY[1.]", "invalid section"),
        ("a FETCH 1 BODY[HEADER.FIELDS ()]", "empty list"),
        ("a FETCH 1 BODY[TEXT]<0.0>", "invalid partial range"),
        ("a FETCH 1 BINARY[1.TEXT]", "BINARY sections are part numbers only"),
        ("a FETCH 1 FLAGS (CHANGEDSINCE 0)", "expected a number greater than zero"),
        ("a STORE 1 +FLAGS (\\Recent)", "\\Recent cannot be set by clients"),
        ("a STORE 1 +FLAGS (\\Bogus)", "unknown system flag \\BOGUS"),
        ("a STORE 1 SET (\\Seen)", "expected FLAGS, +FLAGS or -FLAGS"),
        ("a STORE 1 (FOO 1) FLAGS x", "unknown STORE modifier"),
        ("a STORE 1 FLAGS (a]b)", 'expected ")"'),
        ("a SEARCH", "expected a space between arguments"),
        ("a SEARCH FROG", "unknown search key FROG"),
        ("a SEARCH SINCE 31-Feb-2024", "no such date"),
        ("a SEARCH SINCE 2024-02-01", "expected a date like 1-Feb-2024"),
        ("a SEARCH KEYWORD \\Seen", "expected a keyword, not a system flag"),
        ("a SEARCH OR SEEN", "expected a space between arguments"),
        ("a SEARCH ()", "empty list"),
        ("a SEARCH LARGER -1", "expected a number"),
        ('a SEARCH MODSEQ "/other/x" all 1', "MODSEQ entry names must be /flags/<flag>"),
        ('a SEARCH MODSEQ "/flags/x" some 1', "MODSEQ entry type must be priv, shared or all"),
        ("a SEARCH RETURN (FIRST) ALL", "unknown RETURN option FIRST"),
        ("a SEARCH RETURN (PARTIAL 1) ALL", "expected a range such as 1:100"),
        ("a SEARCH RETURN (PARTIAL 1:*) ALL", "expected a range such as 1:100"),
        ("a SEARCH RETURN (PARTIAL 0:5) ALL", "invalid PARTIAL range"),
        ("a SEARCH RETURN (PARTIAL -1:5) ALL", "invalid PARTIAL range"),
        ("a SORT (SIZE) ALL", "expected a space between arguments"),
        ("a SORT (WEIGHT) UTF-8 ALL", "unknown sort key WEIGHT"),
        ("a THREAD FASTEST UTF-8 ALL", "unknown threading algorithm FASTEST"),
        ('a LIST (BOGUS) "" *', "unknown LIST selection option"),
        ('a LIST (RECURSIVEMATCH) "" *', "RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE"),
        ('a LIST (RECURSIVEMATCH REMOTE) "" *', "RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE"),
        ('a LIST "" * RETURN (MYRIGHTS)', "unknown LIST return option MYRIGHTS"),
        ('a LIST "" * MORE', "expected RETURN"),
        ("a STATUS x (MESSAGES BOGUS)", "unknown STATUS item"),
        ("a STATUS x ()", "empty list"),
        ("a SELECT x (BOGUS)", "unknown SELECT parameter BOGUS"),
        ("a SELECT x (QRESYNC (1 2 1:*))", '"*" is not allowed in QRESYNC sets'),
        ("a SELECT x (QRESYNC (0 2))", "expected a number greater than zero"),
        ("a CREATE x (SIZE 5)", "unknown CREATE parameter"),
        ("a APPEND x", "expected a space between arguments"),
        ("a APPEND x (\\Seen) NOW {1}\r\nx", "expected the message as a literal, or CATENATE"),
        (
            'a APPEND x "7-Feb-1994" {1}\r\nx',
            'expected a date-time like "17-Jul-1996 02:44:25 -0700"',
        ),
        ('a APPEND x "30-Feb-1994 21:52:25 -0800" {1}\r\nx', "no such date-time"),
        ('a APPEND x CATENATE (HTML "x")', "CATENATE parts are TEXT or URL"),
        ("a AUTHENTICATE PLAIN not*base64", "unexpected text at the end of the command"),
        ("a ENABLE", "expected a space between arguments"),
        ("a ENABLE  X", "expected a keyword"),
        ("a ID ()x", "unexpected text at the end of the command"),
        ('a ID ("a")', "expected a space between arguments"),
        ("a COMPRESS GZIP", "unsupported compression mechanism"),
        ("a CANCELUPDATE", "expected a space between arguments"),
        ("a LOGIN \xff y", "the user name is not valid UTF-8"),
    ],
)
def test_syntax_errors_are_bad_with_a_clear_message(wire: str, message: str) -> None:
    result = error(wire.encode("latin-1"))
    assert (result.tag, result.status, result.message) == ("a", "BAD", message)


@pytest.mark.parametrize("line", [b"", b"* NOOP", b"+a NOOP", b"a{ NOOP", b" a NOOP", b"\x00 NOOP"])
def test_a_missing_or_invalid_tag_is_answered_untagged(line: bytes) -> None:
    assert parse_command(RawCommand((line,))) == c.ParseError("*", "missing or invalid tag")


def test_nesting_is_bounded() -> None:
    depth = MAX_DEPTH + 1
    assert error("a SEARCH " + "(" * depth + "ALL" + ")" * depth).message == "too deeply nested"
    assert error("a SEARCH " + "NOT " * depth + "ALL").message == "too deeply nested"
    assert isinstance(parse("a SEARCH " + "OR SEEN " * 40 + "ALL"), c.Search)


def test_continuation_lines_as_text() -> None:
    assert continuation_line(RawCommand((b"DONE",))) == "DONE"
    assert continuation_line(RawCommand((b"dGVzdA==",))) == "dGVzdA=="
    assert continuation_line(RawCommand((b"d\xc3\xa9",))) is None
    assert continuation_line(RawCommand((b"a\x01",))) is None


# -- properties -------------------------------------------------------------------------------

_numbers = st.integers(min_value=1, max_value=0xFFFFFFFF)
_ends = st.one_of(st.none(), _numbers)


@given(st.lists(st.tuples(_ends, _ends), min_size=1, max_size=20))
def test_sequence_sets_round_trip_through_their_text(
    ranges: list[tuple[int | None, int | None]],
) -> None:
    written = SequenceSet(tuple(ranges))
    command = parse(f"a UID FETCH {written} UID")
    assert isinstance(command, c.Fetch)
    assert command.messages == written


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_random_lines_give_a_command_or_a_parse_error(line: bytes, utf8: bool) -> None:
    framer = CommandFramer(Limits(line=300, literal=100))
    framer.receive_data(b"a1 " + line + b"\r\n")
    while (event := framer.next_event()) is not NEED_DATA:
        if isinstance(event, Received):
            result = parse_command(event.command, utf8=utf8)
            if isinstance(result, c.ParseError):
                assert result.message.isascii() and result.message.isprintable()
                assert result.status in ("BAD", "NO [CANNOT]")


_words = st.sampled_from(
    [
        "UID",
        "FETCH",
        "SEARCH",
        "STORE",
        "LIST",
        "SELECT",
        "APPEND",
        "(",
        ")",
        "1:*",
        "$",
        "*",
        "BODY[",
        "]",
        "HEADER.FIELDS",
        "<0.5>",
        '"x"',
        "{1+}\r\nx",
        "NOT",
        "OR",
        "ALL",
        "RETURN",
        "CHARSET",
        "FLAGS",
        "\\Seen",
        "+FLAGS",
        "(CHANGEDSINCE 5)",
        "NIL",
        "~{1+}\r\n\x00",
        " ",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_words, max_size=25))
def test_grammar_shaped_noise_never_raises(words: list[str]) -> None:
    framer = CommandFramer()
    framer.receive_data(("a1 " + " ".join(words) + "\r\n").encode("latin-1"))
    while (event := framer.next_event()) is not NEED_DATA:
        if isinstance(event, Received):
            kinds = (c.ParseError, *typing.get_args(c.Command))
            assert isinstance(parse_command(event.command), kinds)
