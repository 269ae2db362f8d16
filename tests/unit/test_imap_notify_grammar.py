"""The NOTIFY grammar (RFC 5465 §8): the RFC's examples, each filter and event form, and the
command lines the RFC answers with BAD."""

from __future__ import annotations

import pytest

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.fetch import FetchAttribute, FetchBody, Section
from mailgate.protocols.imap.framer import NEED_DATA, CommandFramer, NeedContinuation, Received
from mailgate.protocols.imap.parser import parse_command

NEW_EXPUNGE = ("MessageNew", "MessageExpunge")


def parse(wire: bytes | str) -> c.Command | c.ParseError:
    """Frame `wire` (one command, CRLF added) and parse it."""
    framer = CommandFramer()
    framer.receive_data((wire.encode() if isinstance(wire, str) else wire) + b"\r\n")
    commands = []
    while (event := framer.next_event()) is not NEED_DATA:
        assert isinstance(event, Received | NeedContinuation), event
        if isinstance(event, Received):
            commands.append(event.command)
    assert len(commands) == 1, commands
    return parse_command(commands[0])


def test_notify_none() -> None:
    assert parse("a NOTIFY NONE") == c.Notify("a")
    assert parse("a notify none") == c.Notify("a")


def test_the_rfc_example_with_fetch_items_status_and_several_groups() -> None:
    wire = ("a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to "
            "subject)]) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge "
            "FlagChange)) (mailboxes (INBOX \"Two Words\") (MailboxName))")
    header = FetchBody(Section((), "HEADER.FIELDS", ("FROM", "TO", "SUBJECT")), peek=True)
    assert parse(wire) == c.Notify("a", (
        c.NotifyGroup("SELECTED", NEW_EXPUNGE, fetch=(FetchAttribute("UID"), header)),
        c.NotifyGroup("SUBTREE", (*NEW_EXPUNGE, "FlagChange"), ("Lists",)),
        c.NotifyGroup("MAILBOXES", ("MailboxName",), ("INBOX", "Two Words")),
    ), status=True)


@pytest.mark.parametrize("name", ["INBOXES", "PERSONAL", "SUBSCRIBED", "SELECTED-DELAYED"])
def test_filters_without_mailbox_names(name: str) -> None:
    parsed = parse(f"t NOTIFY SET ({name.lower()} (messagenew messageexpunge))")
    assert parsed == c.Notify("t", (c.NotifyGroup(name, NEW_EXPUNGE),))


def test_none_events_unknown_events_and_mailbox_names_as_decoded() -> None:
    parsed = parse("t NOTIFY SET (mailboxes inbox NONE) (personal (SubscriptionChange "
                   "annotationchange XSomething MessageNew MessageExpunge)) "
                   "(subtree &AOk-t&AOk- (MailboxName))")
    assert parsed == c.Notify("t", (
        c.NotifyGroup("MAILBOXES", (), ("INBOX",)),
        c.NotifyGroup("PERSONAL", ("SubscriptionChange", "AnnotationChange", "XSOMETHING",
                                   *NEW_EXPUNGE)),
        c.NotifyGroup("SUBTREE", ("MailboxName",), ("\u00e9t\u00e9",)),
    ))


def test_message_new_bodies_are_read_as_peek() -> None:
    parsed = parse("t NOTIFY SET (selected (MessageNew (BODY[] FLAGS) MessageExpunge))")
    assert isinstance(parsed, c.Notify)
    assert parsed.groups[0].fetch == (FetchBody(Section(), peek=True), FetchAttribute("FLAGS"))


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ("a NOTIFY", "expected a space between arguments"),
        ("a NOTIFY SET", "expected a space between arguments"),
        ("a NOTIFY GET (personal NONE)", "expected NOTIFY NONE or NOTIFY SET"),
        ("a NOTIFY NONE (personal NONE)", "unexpected text at the end of the command"),
        ("a NOTIFY SET STATUS", "expected a space between arguments"),
        ("a NOTIFY SET STATUSX (personal NONE)", "expected STATUS or an event group"),
        ("a NOTIFY SET ()", "expected a keyword"),
        ("a NOTIFY SET (personal)", "expected a space between arguments"),
        ("a NOTIFY SET (everything (MessageNew MessageExpunge))", "unknown mailbox filter "
                                                                  "EVERYTHING"),
        ("a NOTIFY SET (personal ())", "empty list"),
        ("a NOTIFY SET (personal ALL)", "expected a list of events or NONE"),
        ("a NOTIFY SET (subtree (MailboxName))", "expected a space between arguments"),
        ("a NOTIFY SET (mailboxes () (MailboxName))", "empty list"),
        ("a NOTIFY SET (personal (MessageNew))", "MessageNew and MessageExpunge go together"),
        ("a NOTIFY SET (personal (MessageExpunge))", "MessageNew and MessageExpunge go "
                                                     "together"),
        ("a NOTIFY SET (inboxes (FlagChange))", "FlagChange and AnnotationChange need "
                                                "MessageNew and MessageExpunge"),
        ("a NOTIFY SET (selected (MailboxName))", "the selected mailbox takes message events "
                                                  "only"),
        ("a NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
         "MessageNew takes FETCH items for the selected mailbox only"),
        ("a NOTIFY SET (selected (MessageNew (NOTANITEM) MessageExpunge))",
         "unknown fetch attribute NOTANITEM"),
        ("a NOTIFY SET (selected (MessageNew () MessageExpunge))", "empty list"),
        ("a NOTIFY SET (selected NONE) (selected-delayed NONE)",
         "the selected mailbox has more than one event group"),
        ("a NOTIFY SET (personal NONE)(inboxes NONE)", "unexpected text at the end of the "
                                                       "command"),
        ("a NOTIFY SET (personal NONE", 'expected ")"'),
    ],
)
def test_bad_notify_commands_are_bad(wire: str, message: str) -> None:
    result = parse(wire)
    assert result == c.ParseError("a", message)
