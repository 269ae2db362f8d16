"""The IMAP values commands share: mailbox names, patterns, flags, sequence sets.

`Arguments` extends the lexical `Reader` with the session's name encoding and the command's
tag, for the command grammars in `parser` and `selected`.
"""

from __future__ import annotations

import re
from typing import Final

from mailgate.protocols.imap.framer import RawCommand
from mailgate.protocols.imap.names import InvalidMailboxName, decode_mailbox_name
from mailgate.protocols.imap.reader import CommandSyntaxError, Reader, utf8_text
from mailgate.protocols.imap.search import read_flag_keyword
from mailgate.protocols.imap.sequences import SequenceSet, parse_sequence_set

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SYSTEM_FLAGS: Final = {
    name.upper(): name for name in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
}


class UnspellableName(CommandSyntaxError):
    """A mailbox name not valid in the session's encoding: NO [CANNOT], as Dovecot answers."""

    status = "NO [CANNOT]"


class Arguments(Reader):
    """A Reader over one command that knows its tag and how mailbox names are encoded."""

    __slots__ = ("tag", "utf8")

    def __init__(self, command: RawCommand, tag: str, utf8: bool) -> None:
        super().__init__(command)
        self.tag = tag
        self.utf8 = utf8

    def mailbox(self) -> str:
        """mailbox: an astring naming a mailbox, decoded (modified UTF-7 unless `utf8`);
        INBOX in any case is "INBOX". Control characters are refused: no name has them."""
        try:
            name = decode_mailbox_name(self.astring(), utf8=self.utf8)
        except InvalidMailboxName as error:
            raise UnspellableName(str(error)) from None
        if _CONTROL.search(name):
            raise UnspellableName("mailbox names cannot contain control characters")
        return "INBOX" if name.upper() == "INBOX" else name

    def reference_or_pattern(self, data: bytes) -> str:
        """A LIST/LSUB reference or pattern: decoded like a name, but one no name can match
        (not valid modified UTF-7) is kept as written: it lists nothing, as in Dovecot."""
        try:
            return decode_mailbox_name(data, utf8=self.utf8)
        except InvalidMailboxName:
            return utf8_text(data, "the mailbox pattern")

    def space_mailbox(self) -> str:
        self.space()
        return self.mailbox()

    def pattern(self) -> str:
        """list-mailbox: a LIST/LSUB pattern, "%" and "*" included."""
        return self.reference_or_pattern(self.list_mailbox())

    def space_sequence_set(self) -> SequenceSet:
        self.space()
        return parse_sequence_set(self.sequence_text())

    def flag(self) -> str:
        """A flag a client may set: a system flag (canonical spelling) or a keyword."""
        if not self.at(b"\\"):
            return read_flag_keyword(self)
        self.expect(b"\\", '"\\"')
        name = self.keyword()
        if name == "RECENT":
            raise CommandSyntaxError("\\Recent cannot be set by clients")
        flag = SYSTEM_FLAGS.get("\\" + name)
        if flag is None:
            raise CommandSyntaxError(f"unknown system flag \\{name[:40]}")
        return flag

    def flag_list(self) -> tuple[str, ...]:
        return tuple(self.parenthesised(self.flag))
