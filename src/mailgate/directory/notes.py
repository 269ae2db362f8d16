"""Free text an operator gives with a change (`--reason`, `--note`): kept in the audit log,
so bounded in length."""

from __future__ import annotations

from mailgate.directory.errors import DirectoryError

MAX_CHARACTERS = 1000


def bounded(text: str, option: str) -> str:
    """`text` itself, or DirectoryError naming `option` when it is longer than the limit."""
    if len(text) > MAX_CHARACTERS:
        raise DirectoryError(f"{option} is {len(text)} characters long; at most "
                             f"{MAX_CHARACTERS} are kept: shorten it")
    return text
