"""SORT and THREAD (RFC 5256), ESORT / CONTEXT=SORT returns (RFC 5267, RFC 9394 PARTIAL) and
DISPLAYFROM/DISPLAYTO (RFC 5957): the keys kept per message at delivery, import, APPEND and
by migration 0006, the store's ordering, the door's replies, and Dovecot's imaptest `sort-*`,
`esort` and `thread*` groups run through them — on every database backend."""

from __future__ import annotations

import time

import pytest

from mailgate import mime
from mailgate.mime.sortkeys import base_subject, casemap, message_ids, sort_keys

# -- the keys (mailgate.mime.sortkeys) -------------------------------------------------------

@pytest.mark.parametrize(("subject", "base", "is_reply"), [
    ("", "", False),
    ("a", "a", False),
    ("Re: foo", "foo", True),
    ("RE:   foo\t bar ", "foo bar", True),
    ("Re[2]: foo", "foo", True),
    ("Fw: foo", "foo", True),
    ("fwd : foo", "foo", True),
    ("[list] Re: foo", "foo", True),
    ("[list] foo", "foo", False),
    ("[xyz]", "[xyz]", False),
    ("[a] [b]", "[b]", False),
    ("foo (fwd)", "foo", True),
    ("foo (FWD) (fwd)  ", "foo", True),
    ("[fwd: foo]", "foo", True),
    ("Re: [FWD: c]", "c", True),
    ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", True),
    ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", True),
    ("Ad: Re: Ad: Re: Ad: x", "Ad: Re: Ad: Re: Ad: x", False),
    ("Reply: foo", "Reply: foo", False),
    ("b (a)", "b (a)", False),
])
def test_base_subject_follows_rfc_5256_section_2_1(subject: str, base: str,
                                                   is_reply: bool) -> None:
    assert base_subject(subject) == (base, is_reply)


def test_base_subject_of_huge_bracket_and_prefix_runs_is_linear() -> None:
    for subject in ("[a]" * 200_000 + " x", "Re: " * 200_000 + "x",
                    "[a]" * 200_000 + "(fwd)" * 100_000, "[fwd: " * 100_000 + "x" + "]" * 100_000):
        started = time.perf_counter()
        base_subject(subject)
        assert time.perf_counter() - started < 30  # quadratic would take hours


def test_strings_compare_in_i_unicode_casemap_order_as_dovecot_does() -> None:
    # RFC 5051 titlecases: "[" (0x5B) sorts after the letters and before "_"
    assert sorted(["_", "[xyz]", "c", "B", "a"], key=casemap) == ["a", "B", "c", "[xyz]", "_"]
    assert casemap("ﬁne Ärger") == casemap("FINE ÄRGER") == "FINE A\u0308RGER"


def test_message_ids_are_normalised_and_invalid_ones_skipped() -> None:
    assert message_ids('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>') == \
        message_ids("<01KF8JCEOCBS0045PS@xxx.yyy.com>") == ["<01KF8JCEOCBS0045PS@xxx.yyy.com>"]
    assert message_ids("<a@b> (comment) <no-at> <c@\r\n d> <@x> <y@>") == ["<a@b>", "<c@d>"]


def keys_of(raw: bytes) -> mime.SortKeys:
    return mime.parse(mime.to_crlf(raw)).sort_keys


def test_keys_of_a_message() -> None:
    keys = keys_of(b"From: =?iso-8859-1?q?J=F6rg_M?= <Joerg@Example.ORG>, b@c\n"
                   b"To: undisclosed: a@b, c@d;\nCc: <Boss@x.y>\n"
                   b"Subject: Re: [list] Fwd: Meeting\nMessage-ID: <\"m 1\"@x>\n"
                   b"References: <r1@x>\n <r2@x>\nIn-Reply-To: <r3@x>\n\nbody\n")
    assert keys == mime.SortKeys(
        from_mailbox="JOERG", to_mailbox="UNDISCLOSED", cc_mailbox="BOSS",
        display_from="JO\u0308RG M", display_to="UNDISCLOSED", base_subject="MEETING",
        is_reply=True, message_id="<m1@x>", references=("<r1@x>", "<r2@x>"))
    assert keys_of(b"In-Reply-To: John's note <r3@x> of <r4@x>\nTo: d\n\nx") == mime.SortKeys(
        to_mailbox="D", display_to="D", references=("<r3@x>",))
    assert keys_of(b"Subject: x\n\nbody") == mime.SortKeys(base_subject="X")


def test_keys_are_bounded() -> None:
    keys = sort_keys({"subject": ["s" * 5000], "references": [" ".join(
        f"<{n}@x>" for n in range(500))]})
    assert len(keys.base_subject) == 1000
    assert keys.references == tuple(f"<{n}@x>" for n in range(400, 500))
