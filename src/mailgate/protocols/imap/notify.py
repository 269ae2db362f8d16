"""The grammar of NOTIFY (RFC 5465 §8), and the rules the RFC answers with BAD.

    notify        = "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] SP event-group *(SP event-group))
    event-group   = "(" filter-mailboxes SP ("(" event *(SP event) ")" / "NONE") ")"
    filter-mailboxes = "SELECTED" / "SELECTED-DELAYED" / "INBOXES" / "PERSONAL" / "SUBSCRIBED"
                  / ("SUBTREE" / "MAILBOXES") SP (mailbox / "(" mailbox *(SP mailbox) ")")
    event         = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / atom

Beyond the grammar, BAD also for what §5 forbids: MessageNew without MessageExpunge or the
reverse, FlagChange or AnnotationChange without both, mailbox events or FETCH items for
anything but the selected mailbox, and two groups for the selected mailbox. Events the
server does not support are the session's business (NO [BADEVENT ...]).
"""

from __future__ import annotations

from typing import Final

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.arguments import Arguments
from mailgate.protocols.imap.fetch import FetchBody, FetchItem, read_fetch_items
from mailgate.protocols.imap.reader import CommandSyntaxError

MESSAGE_EVENTS: Final = ("MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange")
MAILBOX_EVENTS: Final = ("MailboxName", "SubscriptionChange", "MailboxMetadataChange",
                         "ServerMetadataChange")
_SPELLING: Final = {name.upper(): name for name in (*MESSAGE_EVENTS, *MAILBOX_EVENTS)}
SELECTED_FILTERS: Final = frozenset({"SELECTED", "SELECTED-DELAYED"})
_FILTERS: Final = SELECTED_FILTERS | {"INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE",
                                      "MAILBOXES"}


def notify(a: Arguments, _: bool) -> c.Notify:
    a.space()
    action = a.keyword()
    if action == "NONE":
        return c.Notify(a.tag)
    if action != "SET":
        raise CommandSyntaxError("expected NOTIFY NONE or NOTIFY SET")
    a.space()
    status = not a.at(b"(")
    if status:
        if a.keyword() != "STATUS":
            raise CommandSyntaxError("expected STATUS or an event group")
        a.space()
    groups = [_event_group(a)]
    while a.maybe_space():
        groups.append(_event_group(a))
    if sum(group.filter in SELECTED_FILTERS for group in groups) > 1:
        raise CommandSyntaxError("the selected mailbox has more than one event group")
    return c.Notify(a.tag, tuple(groups), status)


def _event_group(a: Arguments) -> c.NotifyGroup:
    a.expect(b"(", '"("')
    a.descend()
    name = a.keyword()
    if name not in _FILTERS:
        raise CommandSyntaxError(f"unknown mailbox filter {name[:40]}")
    mailboxes: tuple[str, ...] = ()
    if name in ("SUBTREE", "MAILBOXES"):
        a.space()
        mailboxes = tuple(dict.fromkeys(a.one_or_list(a.mailbox)))
    a.space()
    fetch: list[FetchItem] = []
    events: tuple[str, ...] = ()
    if a.at(b"("):
        events = tuple(dict.fromkeys(a.parenthesised(lambda: _event(a, fetch), empty=False)))
    elif a.keyword() != "NONE":
        raise CommandSyntaxError("expected a list of events or NONE")
    a.depth -= 1
    a.expect(b")", '")"')
    _check(name, events, fetch)
    return c.NotifyGroup(name, events, mailboxes, tuple(fetch))


def _event(a: Arguments, fetch: list[FetchItem]) -> str:
    word = a.keyword()
    name = _SPELLING.get(word, word)
    if name == "MessageNew" and a.at(b" ("):
        a.space()
        items = read_fetch_items(a)
        fetch.extend(FetchBody(i.section, i.partial, True, i.binary)  # never sets \Seen
                     if isinstance(i, FetchBody) else i for i in items)
    return name


def _check(name: str, events: tuple[str, ...], fetch: list[FetchItem]) -> None:
    given = set(events)
    if ("MessageNew" in given) != ("MessageExpunge" in given):
        raise CommandSyntaxError("MessageNew and MessageExpunge go together")
    if given & {"FlagChange", "AnnotationChange"} and "MessageNew" not in given:
        raise CommandSyntaxError("FlagChange and AnnotationChange need MessageNew and "
                                 "MessageExpunge")
    if name in SELECTED_FILTERS:
        if given & set(MAILBOX_EVENTS):
            raise CommandSyntaxError("the selected mailbox takes message events only")
    elif fetch:
        raise CommandSyntaxError("MessageNew takes FETCH items for the selected mailbox only")
