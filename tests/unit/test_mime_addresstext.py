"""The normalised address lists SEARCH FROM/TO/CC/BCC match: each case below was checked
against Dovecot 2.3.19 (SEARCH FROM with the whole decoded form finds the message)."""

from __future__ import annotations

import pytest

from mailgate.mime import to_crlf
from mailgate.mime.addresstext import normalised
from mailgate.mime.searchtext import extract

CASES = [
    ("user-from@domain.org", "<user-from@domain.org>"),
    ("RealFrom <user-from@domain.org>", "RealFrom <user-from@domain.org>"),
    ("<user-from (comment)@ (comment) domain.org>", "<user-from@domain.org>"),
    ("user-from@domain.org (RealFrom)", "RealFrom <user-from@domain.org>"),
    ("e@f.org (Real) (Other)", "Other <e@f.org>"),  # the last comment names it
    ("Joe (Comm) <joe@x.org>", "Joe <joe@x.org>"),
    ("A <a@b>, (c1) b@c (c2), \"\" <e@f>", "A <a@b>, c2 <b@c>, <e@f>"),
    ("groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n  groupname2: "
     "groupuser3@domain.org;",
     "groupname: <groupuser1@domain.org>, <groupuser2@domain.org>;, groupname2: "
     "<groupuser3@domain.org>;"),
    ("grp2:;", "grp2:;"),
    (":;", '"":;'),
    ("g: a@b, c@d; , e@f", "g: <a@b>, <c@d>;, <e@f>"),
    ("<@route1,@route2:g@h.org>", "<@route1,@route2:g@h.org>"),
    ("First M. Last <fml@x.org>", '"First M. Last" <fml@x.org>'),
    ('"Last, First" <a@b.org>', '"Last, First" <a@b.org>'),
    ('"quoted\\"q" <q@r.org>', '"quoted\\"q" <q@r.org>'),
    ('"Back\\\\slash" <bs@x.org>', '"Back\\\\slash" <bs@x.org>'),
    ("Who? <who@x>", "Who? <who@x>"),
    ('"x y"@z.org', '<"x y"@z.org>'),
    ('"a.b"@c', "<a.b@c>"),
    ("a..b@c", "<a..b@c>"),
    ("<a@[1.2.3.4]>", "<a@[1.2.3.4]>"),
    ("=?utf-8?q?J=C3=B6rg_X?= <j@x.org>", "=?utf-8?q?J=C3=B6rg_X?= <j@x.org>"),
    ('"=?utf-8?q?J=C3=B6rg?=" <k@x.org>', "=?utf-8?q?J=C3=B6rg?= <k@x.org>"),
    ("Mr. =?utf-8?q?A?= <a@x>", "Mr. =?utf-8?q?A?= <a@x>"),  # not quoted: decoded later
    ("<>", "<MISSING_MAILBOX@MISSING_DOMAIN>"),
    ("naked", "<naked@MISSING_DOMAIN>"),
    ("two words", '"two words" <MISSING_MAILBOX@MISSING_DOMAIN>'),
    ("a@b,,c@d", "<a@b>, <MISSING_MAILBOX@MISSING_DOMAIN>, <c@d>"),
    ("a@b junk, c@d", "<a@b>"),  # parsing stops where the list breaks
    ("Real <x@y", "Real <x@SYNTAX_ERROR>"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_an_address_list_is_written_back_as_dovecot_writes_it(raw: str, expected: str) -> None:
    assert normalised(raw) == expected


def test_the_search_text_holds_the_decoded_folded_address_lists_of_the_address_fields(
        ) -> None:
    found = extract(to_crlf(
        b"From: =?utf-8?q?J=C3=B6rg_X?= <j@x.org>\nTo: a@b (Ann)\nTo: grp:;\n"
        b"Reply-To: r@s\nSubject: s\n\nbody\n"))
    assert found.addresses == {"from": "jörg x <j@x.org>", "to": "ann <a@b>\ngrp:;"}
    assert found.fields["to"] == "a@b (ann)\ngrp:;"  # HEADER still sees the field as sent
