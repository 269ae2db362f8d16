"""The replies of SORT, THREAD and their RETURN options: untagged SORT (RFC 5256), ESEARCH
for ESORT and CONTEXT=SORT (RFC 5267, PARTIAL per RFC 9394), and THREAD.

The session resolves the search, calls `store.ordering`, and turns UIDs into message
numbers (or keeps them, for the UID forms) before rendering; these functions only write::

    sort_reply([2, 3, 6])                          # b"* SORT 2 3 6\\r\\n"
    esearch_reply("A1", [5, 3, 4], returns, uid=True)
                                                   # b'* ESEARCH (TAG "A1") UID ALL 5,3:4\\r\\n'
    thread_reply(threads, seq_of)                  # b"* THREAD (2)(3 6 (4 23)(44 7 96))\\r\\n"

`esearch_reply` takes the numbers in the requested order, so it serves SEARCH too (mailbox
order): MIN and MAX are the first and last of that order, and ALL writes ranges only for
ascending runs (RFC 5267 §3.2), which for SEARCH is the shortest set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mailgate.protocols.imap.commands import SearchReturn
from mailgate.protocols.imap.wire import text_string

if TYPE_CHECKING:
    from mailgate.store.ordering import ThreadNode

CRLF = b"\r\n"


def sort_reply(numbers: Sequence[int], modseq: int | None = None) -> bytes:
    """`* SORT n1 n2 ...`, with CONDSTORE's `(MODSEQ m)` when given (RFC 7162 §3.1.5)."""
    tail = f" (MODSEQ {modseq})" if modseq else ""
    return f"* SORT{''.join(f' {n}' for n in numbers)}{tail}".encode("ascii") + CRLF


def esearch_reply(tag: str, numbers: Sequence[int], returns: SearchReturn, *, uid: bool,
                  modseq: int | None = None) -> bytes:
    """`* ESEARCH (TAG "t") [UID] ...` for the result options asked (MIN MAX ALL PARTIAL
    COUNT); empty when SAVE was the only option (RFC 5182 §2.4: no ESEARCH then)."""
    options = returns.options
    if options == {"SAVE"}:
        return b""
    parts = [f"* ESEARCH (TAG {text_string(tag)})"]
    if uid:
        parts.append("UID")
    if numbers:
        if "MIN" in options:
            parts.append(f"MIN {numbers[0]}")
        if "MAX" in options:
            parts.append(f"MAX {numbers[-1]}")
        if "ALL" in options:
            parts.append(f"ALL {sequence_in_order(numbers)}")
    if returns.partial is not None:
        low, high = returns.partial
        window = _window(numbers, low, high)
        shown = f"{low}:{high}" if low > 0 else f"{high}:{low}"
        parts.append(f"PARTIAL ({shown} {sequence_in_order(window) if window else 'NIL'})")
    if "COUNT" in options:
        parts.append(f"COUNT {len(numbers)}")
    if modseq and numbers:
        parts.append(f"MODSEQ {modseq}")
    return " ".join(parts).encode("utf-8") + CRLF


def sequence_in_order(numbers: Sequence[int]) -> str:
    """Numbers as a sequence set in their given order: ascending runs become ranges,
    anything else stays as it is ([5, 3, 4, 2, 1] -> "5,3:4,2,1")."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in runs)


def _window(numbers: Sequence[int], low: int, high: int) -> Sequence[int]:
    """The results at positions low..high (1 is the first; -1 the last, RFC 9394)."""
    if low > 0:
        return numbers[low - 1:high]
    count = len(numbers)
    return numbers[max(count + low, 0):max(count + high + 1, 0)]


def thread_reply(threads: Sequence[ThreadNode],
                 number: Callable[[int], int] | None = None) -> bytes:
    """`* THREAD (...)...` for `store.ordering.thread_uids` trees; `number` maps a UID to
    its message number (None for UID THREAD). A node with one child continues on the same
    list (`1 2 3`), one with several opens a list per child (`3 (4)(5)`); a dummy writes no
    number (`((3)(5))`). Built without recursion, so any depth is fine."""
    out: list[str] = ["* THREAD"]
    pending: list[ThreadNode | str] = [*reversed(threads)]
    if threads:
        out.append(" ")
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        out.append("(")
        node, wrote = item, False
        while True:
            if node.uid is not None:
                shown = node.uid if number is None else number(node.uid)
                out.append(f" {shown}" if wrote else str(shown))
                wrote = True
            if len(node.children) != 1:
                break
            node = node.children[0]
        if node.children and wrote:
            out.append(" ")
        pending.append(")")
        pending.extend(reversed(node.children))
    return "".join(out).encode("ascii") + CRLF
