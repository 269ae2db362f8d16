"""The imaptest runner's script parser and reply matcher (tests/imaptest), on the real test
groups of ../shared/testdata/imaptest and on hand-made replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaptest.matcher import UnboundVariable, Variables, expand, is_status, match
from imaptest.script import (
    REPLY_OK,
    Existence,
    ScriptError,
    StartState,
    expected_reply,
    group_names,
    load_group,
    parse_script,
    read_mbox,
)
from imaptest.tokens import Arg, Kind, Literal, Part, parse_args, render

SHARED = Path(__file__).resolve().parents[3] / "shared"
TESTDATA = SHARED / "testdata" / "imaptest"
if not TESTDATA.is_dir():
    pytest.skip(f"{TESTDATA} is missing (imaptest's test groups live in {SHARED})",
                allow_module_level=True)
GROUPS = group_names(TESTDATA)
DOVECOT_SKIPS = {"sort-partial", "urlauth", "urlauth-binary", "urlauth2"}


def line(text: str, literals: tuple[Literal, ...]) -> tuple[Part, ...]:
    """Text with `{}` where each literal goes."""
    parts: list[Part] = []
    for i, chunk in enumerate(text.split("{}")):
        parts.append(chunk)
        if i < len(literals):
            parts.append(literals[i])
    return tuple(parts)


def pattern(text: str, *literals: Literal) -> tuple[Arg, ...]:
    """An expected untagged reply as the script parser makes it (directives included)."""
    return expected_reply(line(text, literals))


def reply(text: str, *literals: Literal) -> tuple[Arg, ...]:
    return parse_args(line(text, literals))


# ---------------------------------------------------------------------------- parser

@pytest.mark.parametrize("name", GROUPS)
def test_every_group_parses(name: str) -> None:
    script = load_group(TESTDATA, name)
    assert script.steps, name
    assert all(c.reply is not None for step in script.steps for c in step.commands)
    assert read_mbox(script.mbox)


def test_groups_and_command_counts_are_imaptests() -> None:
    """71 groups; imaptest counted 457 base and 329 extension commands on Dovecot (README):
    the same command blocks, the added logouts included."""
    scripts = [load_group(TESTDATA, name) for name in GROUPS]
    assert len(scripts) == 71
    assert sum(len(s.steps) for s in scripts if not s.extension) == 457
    assert sum(len(s.steps) for s in scripts
               if s.extension and s.name not in DOVECOT_SKIPS) == 329


def test_header_values() -> None:
    notify = load_group(TESTDATA, "notify")
    assert notify.capabilities == ("notify", "qresync") and notify.extension
    expunge = load_group(TESTDATA, "expunge")
    assert (expunge.connections, expunge.messages, expunge.state) == (2, 8, StartState.SELECTED)
    assert load_group(TESTDATA, "fetch-body").messages is None  # messages: all
    assert load_group(TESTDATA, "atoms").state is StartState.AUTH
    assert load_group(TESTDATA, "urlauth2").needs_user2
    assert load_group(TESTDATA, "fetch-body").mbox.name == "fetch-body.mbox"
    assert load_group(TESTDATA, "store").mbox.name == "default.mbox"


def test_connection_prefixes_and_added_logout() -> None:
    append = load_group(TESTDATA, "append")
    assert [s.connection for s in append.steps[:3]] == [0, 1, 0]
    assert append.steps[0].commands[0].plain == "select $mailbox"
    logout = append.steps[-1]
    assert (logout.connection, logout.commands[0].line, logout.commands[0].text) == \
        (0, 0, ("logout",))
    assert logout.commands[0].reply == REPLY_OK
    # a group that logs out itself gets no extra logout; its BYE is expected
    own = load_group(TESTDATA, "logout")
    assert [c.plain for c in own.steps[-1].commands] == ["logout"]
    assert own.steps[-1].expects_bye
    assert own.steps[0].untagged[0].existence is Existence.MUST_NOT


def test_deferred_result_and_pipelined_tags() -> None:
    select = load_group(TESTDATA, "select")
    examine = select.steps[2]
    assert examine.commands[0].plain == "examine $mailbox"
    assert render(examine.commands[0].reply or ()) == "ok [read-only]"
    assert len(examine.untagged) == 5
    pipeline = load_group(TESTDATA, "pipeline")
    first = pipeline.steps[0]
    assert [c.tag for c in first.commands] == [1, 2, 3, 4]
    assert [c.plain for c in first.commands][1] == "create ${mailbox}2"
    assert all(render(c.reply or ()) == "ok" for c in first.commands)
    assert len(pipeline.steps[1].untagged) == 4


def test_literal_blocks_text_and_binary() -> None:
    body = load_group(TESTDATA, "fetch-body").steps[2].untagged[0].pattern
    literal = body[2].items[-1]
    assert (literal.kind, literal.text, literal.binary) == (Kind.LITERAL, "body1\r\n\r\n", False)
    command = load_group(TESTDATA, "append-binary").steps[0].commands[0]
    data = [p for p in command.text if isinstance(p, Literal)]
    assert len(data) == 1 and data[0].binary
    # binary blocks keep the file's bytes: LF stays LF, CRLF stays CRLF, NUL and 8-bit kept
    assert data[0].data.startswith("From: user@domain.org\r\n")
    assert data[0].data.endswith("\r\n\x00-\xe4\n\r\n\n")
    multi = load_group(TESTDATA, "multiappend").steps[0].commands[0]
    assert [type(p).__name__ for p in multi.text] == ["str", "Literal", "str", "Literal"]


def test_implicit_directives() -> None:
    fetch = pattern("1 fetch (uid $uid1 flags (\\seen))")
    assert fetch[2].items[0].text == "$!unordered=2"
    assert {a.text for a in fetch[2].items[-1].items if a.text.startswith("$!")} == {
        "$!unordered", "$!noextra", "$!ignore=\\recent", "$!ignore=$HasAttachment",
        "$!ignore=$HasNoAttachment"}
    assert pattern("list () $sep $root")[1].items[0].text == "$!unordered"
    assert pattern("status $mailbox (messages 1)")[2].items[0].text == "$!unordered=2"
    explicit = pattern("list ($!unordered $!ban=\\noselect \\subscribed) $sep x")
    assert [a.text for a in explicit[1].items] == ["$!unordered", "$!ban=\\noselect",
                                                   "\\subscribed"]


@pytest.mark.parametrize(("text", "error"), [
    ("colour: blue\n\nok noop\n", "unknown header"),
    ("state: asleep\n\nok noop\n", "unknown state"),
    ("\nnoop\n", "no tagged result"),
    ("\nok append x {{{\nhello\n", "never closed"),
    ("\nok noop\n* 1 fetch ($!sideways x)\n", "unknown directive"),
    ("connections: 2\n\nok noop\n", "missing connection number"),
    ("\n# nothing\n", "no commands"),
])
def test_script_errors_name_file_and_cause(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "broken-group"
    path.write_text(text)
    with pytest.raises(ScriptError, match=error) as caught:
        parse_script(path)
    assert "broken-group" in str(caught.value)


def test_mbox_messages_and_internal_dates() -> None:
    default = read_mbox(TESTDATA / "default.mbox")
    assert len(default) == 6
    assert default[0].data.startswith("From: user1@domain.org\r\n")
    assert "\n" not in default[0].data.replace("\r\n", "")
    assert default[0].internaldate == "22-Feb-2008 17:06:23 +0000"
    dated = read_mbox(TESTDATA / "search-date.mbox")
    assert any(m.internaldate.endswith(" +0200") for m in dated)


# ---------------------------------------------------------------------------- tokenizer

def test_tokenizer_keeps_dovecots_atom_rules() -> None:
    args = reply("1 FETCH (BODY[HEADER.FIELDS (FROM)] {} FLAGS (\\Seen) X NIL)",
                 Literal("From: a\r\n\r\n"))
    items = args[2].items
    assert [a.kind for a in items] == [Kind.ATOM, Kind.LIST, Kind.ATOM, Kind.LITERAL, Kind.ATOM,
                                       Kind.LIST, Kind.ATOM, Kind.NIL]
    assert (items[0].text, items[2].text) == ("BODY[HEADER.FIELDS", "]")
    assert reply('"a \\"b\\" \\\\c"')[0] == Arg(Kind.STRING, 'a "b" \\c')
    assert [a.kind for a in reply("THREAD (3 2)(1)")] == [Kind.ATOM, Kind.LIST, Kind.LIST]


# ---------------------------------------------------------------------------- matcher

def test_variables_bind_on_first_match_and_must_agree_after() -> None:
    v = Variables()
    assert match(v, pattern("1 fetch (uid $uid1)"), reply("1 FETCH (UID 7)")).ok
    assert v.values["uid1"] == "7"
    assert match(v, pattern("2 fetch (uid $uid1)"), reply("2 FETCH (UID 7)")).ok
    outcome = match(v, pattern("2 fetch (uid $uid1)"), reply("2 FETCH (UID 8)"))
    assert not outcome.ok and "uid $uid1 (= uid 7)" in outcome.why
    # a failed match binds nothing
    assert not match(v, pattern("search $a $b"), reply("SEARCH 1")).ok
    assert "a" not in v.values and "b" not in v.values
    # ${name} delimits, $$ is a dollar, and a variable stops at the text that follows it
    v.values["sep"] = "/"
    assert match(v, pattern("list () $sep imaptest${sep}x"), reply('LIST () "/" imaptest/x')).ok
    assert match(v, pattern("1 fetch (flags ($$seen))"), reply("1 FETCH (FLAGS ($Seen))")).ok
    assert match(v, pattern("ok [uidvalidity $uidv]"), reply("OK [UIDVALIDITY 42] ok"),
                 prefix=True).ok
    assert v.values["uidv"] == "42"


def test_atoms_ignore_case_and_strings_literals_atoms_are_one() -> None:
    v = Variables()
    assert match(v, pattern("search 1"), reply("SEARCH 1")).ok
    lit = reply("1 FETCH (BODY[TEXT]<0> {})", Literal("BoD"))
    assert match(v, pattern('1 fetch (body[text]<0> "bod")'), lit).ok
    assert match(v, pattern("1 fetch (body[text]<0> {})", Literal("bod")),
                 reply('1 FETCH (BODY[TEXT]<0> "bod")')).ok
    assert match(v, pattern("1 fetch (x bod)"), reply('1 FETCH (X "bod")')).ok
    # NIL only matches NIL, a quoted "NIL" only a string
    assert match(v, pattern("1 fetch (x NIL)"), reply("1 FETCH (X nil)")).ok
    assert not match(v, pattern("1 fetch (x NIL)"), reply('1 FETCH (X "NIL")')).ok
    assert not match(v, pattern('1 fetch (x "NIL")'), reply("1 FETCH (X NIL)")).ok


def test_unordered_chains_and_flag_sets() -> None:
    v = Variables()
    expected = pattern("1 fetch (uid $u flags (\\seen \\flagged))")
    assert match(v, expected, reply("1 FETCH (FLAGS (\\Flagged \\Recent \\Seen) UID 3)")).ok
    # FETCH FLAGS is an exact set (apart from \Recent): an extra or missing flag fails
    assert not match(v, expected, reply("1 FETCH (UID 3 FLAGS (\\Seen \\Flagged \\Draft))")).ok
    assert not match(v, expected, reply("1 FETCH (UID 3 FLAGS (\\Seen))")).ok
    # chains of two keep name and value together
    assert not match(v, pattern("status x (messages 1 recent 0)"),
                     reply("STATUS x (MESSAGES 0 RECENT 1)")).ok
    assert match(v, pattern("status x (messages 1 recent 0)"),
                 reply("STATUS x (RECENT 0 UIDNEXT 9 MESSAGES 1)")).ok
    # LIST flags: any order, extras allowed
    assert match(v, pattern("list (\\noselect) $sep $root"),
                 reply('LIST (\\HasChildren \\Noselect) "/" ""')).ok


def test_noextra_and_ban_directives() -> None:
    v = Variables()
    strict = pattern("1 fetch (x ($!unordered $!noextra a b))")
    assert match(v, strict, reply("1 FETCH (X (B A))")).ok
    assert not match(v, strict, reply("1 FETCH (X (B A C))")).ok
    banned = pattern("list ($!unordered $!ban=\\subscribed \\haschildren) $sep x")
    assert match(v, banned, reply('LIST (\\HasChildren \\Marked) "/" x')).ok
    outcome = match(v, banned, reply('LIST (\\HasChildren \\Subscribed) "/" x'))
    assert not outcome.ok and "banned" in outcome.why
    ordered = pattern("thread (3 2)(1)")
    assert match(v, ordered, reply("THREAD (3 2)(1)")).ok
    assert not match(v, ordered, reply("THREAD (2 3)(1)")).ok
    assert not match(v, ordered, reply("THREAD (3 2)(1)(4)")).ok
    # an empty unordered list accepts any list
    assert match(v, pattern("1 fetch (envelope ($!unordered))"),
                 reply('1 FETCH (ENVELOPE ("date" NIL))')).ok


def test_dollar_skips_and_prefix_matching() -> None:
    v = Variables()
    assert match(v, pattern("1 fetch (body $)"), reply('1 FETCH (BODY ("TEXT" "PLAIN"))')).ok
    assert match(v, pattern("ok [capability $] done"),
                 reply("OK [CAPABILITY IMAP4rev1 IDLE] done"), prefix=True).ok
    # tagged results and OK/NO/BAD/BYE: the expected part is a prefix of the real reply
    assert is_status(reply("NO [TRYCREATE] Mailbox doesn't exist"))
    assert match(v, pattern("no [trycreate]"), reply("NO [TRYCREATE] Mailbox doesn't exist"),
                 prefix=True).ok
    assert not match(v, pattern("ok"), reply("NO [TRYCREATE] x"), prefix=True).ok
    assert not match(v, pattern("2 exists"), reply("2 EXISTS extra")).ok


def test_relative_sequence_numbers_follow_expunges() -> None:
    v = Variables()
    v.start_step(4)
    assert match(v, pattern("$1 expunge"), reply("1 EXPUNGE")).ok
    v.expunged(1)
    assert not match(v, pattern("$3 expunge"), reply("3 EXPUNGE")).ok
    assert match(v, pattern("$3 expunge"), reply("2 EXPUNGE")).ok
    assert v.relative_seq(1) == "<expunged>" and v.relative_seq(9) == "<out of range>"


def test_texts_compare_up_to_their_first_nul_as_in_imaptest() -> None:
    v = Variables()
    expected = pattern("1 fetch (binary[1] {})", Literal("\x00-\xe4\n\r\n", binary=True))
    assert match(v, expected, reply("1 FETCH (BINARY[1] {})",
                                    Literal("\x00-\xe4\n\r\n\n", binary=True))).ok
    assert not match(v, expected, reply("1 FETCH (BINARY[1] {})", Literal("AC3k"))).ok


def test_expand_commands() -> None:
    v = Variables({"mailbox": "imaptest", "sep": "/"})
    v.start_step(3)
    assert expand(v, "create $mailbox${sep}x$$y $2") == "create imaptest/x$y 2"
    assert expand(v, "select ~foo !#$$&") == "select ~foo !#$&"
    with pytest.raises(UnboundVariable, match="uid9"):
        expand(v, "uid fetch $uid9 uid")
    assert expand(v, "fetch $uid9", keep_unbound=True) == "fetch $"
