"""The IMAP commands on the selected folder's messages: FETCH, STORE, SEARCH, COPY, MOVE,
EXPUNGE and CHECK (and their UID forms), and CANCELUPDATE for SEARCH's live results.

FETCH runs in batches of `FETCH_BATCH` messages: one worker-thread hop per batch reads the
rows (one query), the message sections (seeks) and renders the responses, up to about
`FETCH_BATCH_BYTES` of them (the rest of the batch takes further hops), joined into pieces
of about `WRITE_SIZE` octets; the event loop only writes them out (a few writes per hop, not
one per response), waiting for the socket to drain between hops. A connection's FETCH thus
holds about `FETCH_BATCH_BYTES` however large the mailbox and however slowly the client reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap import fetching
from mailgate.protocols.imap.fetch import FetchAttribute
from mailgate.protocols.imap.ordering import esearch_reply, sort_reply, thread_reply
from mailgate.protocols.imap.searching import store_key, uses_modseq
from mailgate.protocols.imap.view import MailboxView
from mailgate.protocols.imap.wire import compact_set, text_string
from mailgate.store import search as keys
from mailgate.store import selected, transfer
from mailgate.store.errors import MailboxNotFound
from mailgate.store.flags import FlagOperation
from mailgate.store.ordering import sort_uids, thread_uids
from mailgate.store.search import search as store_search
from mailgate.store.uidsets import UidSet

if TYPE_CHECKING:
    from mailgate.protocols.imap.session import Handler, ImapSession

T = TypeVar("T")
FETCH_BATCH = 1000
FETCH_BATCH_BYTES = 1 << 20
WRITE_SIZE = 1 << 18
MODSEQ = FetchAttribute("MODSEQ")
FLAGS = FetchAttribute("FLAGS")
_OPERATIONS = {"": FlagOperation.REPLACE, "+": FlagOperation.ADD, "-": FlagOperation.REMOVE}


def _view(session: ImapSession) -> MailboxView:
    assert session.view is not None
    return session.view


def _account(session: ImapSession) -> int:
    assert session.principal is not None
    return session.principal.account_id


def _numbers(view: MailboxView, uids: list[int], as_uids: bool) -> list[int]:
    if as_uids:
        return uids
    return [seq for uid in uids if (seq := view.seq_of(uid)) is not None]


async def fetch(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Fetch)
    view = _view(session)
    wanted = view.uid_set(command.messages, command.uid)
    plan = fetching.plan(command.items, command.uid)
    if command.changed_since is not None and MODSEQ not in plan.items:
        plan = fetching.plan((*plan.items, MODSEQ), command.uid)  # CHANGEDSINCE implies it
    if MODSEQ in plan.items:
        session.enable_condstore()
    if command.vanished and command.changed_since is not None:
        gone = await session.backend.read(selected.vanished_since, view.folder_id,
                                          command.changed_since, wanted)
        if gone:
            session.send(f"* VANISHED (EARLIER) {compact_set(gone)}\r\n")
    seen_now: set[int] = set()
    if plan.sets_seen and not view.read_only:
        seen_now = await _mark_seen(session, view, wanted)
        if FLAGS in plan.items:
            seen_now = set()  # the FLAGS item already shows the new \Seen
    if not await send_fetches(session, view, view.uids_in(wanted), plan,
                              command.changed_since, seen_now):
        return
    if command.uid:
        await session.report_changes()
    await session.contexts.announce(session)
    session.ok(command.tag, f"{'UID ' if command.uid else ''}FETCH completed")


async def send_fetches(session: ImapSession, view: MailboxView, uids: list[int],
                       plan: fetching.FetchPlan, changed_since: int | None,
                       seen_now: set[int]) -> bool:
    """Write the FETCH responses of `uids` (announced, in order), a batch of rows per query
    and about `FETCH_BATCH_BYTES` of responses per worker hop, draining between hops; False
    when the session ended or left the view meanwhile."""
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start:start + FETCH_BATCH]
        chunks, rest = await session.backend.read(_render_batch, session.backend, view,
                                                  batch, plan, changed_since, seen_now)
        while True:
            if session.closed or session.view is not view:
                return False
            for chunk in chunks:
                session.send(chunk)
            await session.out.drain()
            if not rest:
                break
            chunks, rest = await session.backend.read(_render_rows, session.backend, view,
                                                      rest, plan, seen_now)
    return True


def _render_batch(conn, backend, view: MailboxView, batch: list[int],  # type: ignore[no-untyped-def]
                  plan: fetching.FetchPlan, changed_since: int | None,
                  seen_now: set[int]) -> tuple[list[bytes], list[selected.FetchRow]]:
    """Worker thread: the rows of one batch; the FETCH responses of the first of them and
    the rows left (see `_render_rows`)."""
    rows = list(selected.fetch(conn, view.folder_id, UidSet.of(batch),
                               structure=plan.structure, changed_since=changed_since))
    return _render_rows(conn, backend, view, rows, plan, seen_now)


def _render_rows(conn, backend, view: MailboxView,  # type: ignore[no-untyped-def]
                 rows: list[selected.FetchRow], plan: fetching.FetchPlan,
                 seen_now: set[int]) -> tuple[list[bytes], list[selected.FetchRow]]:
    """Worker thread: the FETCH responses of the first rows, until they reach
    `FETCH_BATCH_BYTES`, joined into pieces of about `WRITE_SIZE` octets (a larger literal
    is a piece of its own), and the rows left for the next hop."""
    out: list[bytes] = []
    joined = bytearray()
    rendered = 0
    left: list[selected.FetchRow] = []
    for index, row in enumerate(rows):
        if rendered >= FETCH_BATCH_BYTES:
            left = rows[index:]
            break
        seq = view.seq_of(row.uid)
        if seq is None:
            continue
        for chunk in fetching.render(seq, row, plan, backend.read_range, view.shown_flags,
                                     extra_flags=row.uid in seen_now):
            rendered += len(chunk)
            if len(chunk) >= WRITE_SIZE:
                if joined:
                    out.append(bytes(joined))
                    joined.clear()
                out.append(chunk)
                continue
            joined += chunk
            if len(joined) >= WRITE_SIZE:
                out.append(bytes(joined))
                joined.clear()
    if joined:
        out.append(bytes(joined))
    return out, left


async def _mark_seen(session: ImapSession, view: MailboxView, wanted: UidSet) -> set[int]:
    """Reading a body sets \\Seen (RFC 9051 §6.4.5); the UIDs that got it now."""
    unseen = [uid for uid in view.uids_in(wanted)
              if "\\Seen" not in view.flags[view.seq_of(uid) - 1].split()]  # type: ignore[operator]
    if not unseen:
        return set()
    result = await session.backend.write(transfer.store_flags, view.folder_id,
                                         UidSet.of(unseen), FlagOperation.ADD, ["\\Seen"])
    for state in result.stored:
        view.record(state)
    return set(unseen)


async def store(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Store)
    view = _view(session)
    wanted = view.uid_set(command.messages, command.uid)
    if view.read_only:
        session.no(command.tag, "[READ-ONLY] The mailbox is open read-only")
        return
    if command.unchanged_since is not None:
        session.enable_condstore()
    result = await session.backend.write(transfer.store_flags, view.folder_id, wanted,
                                         _OPERATIONS[command.mode], list(command.flags),
                                         command.unchanged_since)
    for state in result.stored:
        seq = view.seq_of(state.uid)
        if seq is None:
            continue
        view.record(state)
        if not command.silent or command.unchanged_since is not None:
            session.send(view.flag_update(seq, state, uid=command.uid))
    if command.uid:
        await session.report_changes()
    await session.contexts.announce(session)
    name = f"{'UID ' if command.uid else ''}STORE"
    if result.modified:
        numbers = _numbers(view, result.modified, command.uid)
        session.ok(command.tag, f"[MODIFIED {compact_set(numbers)}] {name} completed")
    else:
        session.ok(command.tag, f"{name} completed")


Matching = tuple[keys.SearchKey, list[int], int | None, T]


async def _matching(session: ImapSession, command: c.Search | c.Sort | c.Thread,
                    then: Callable[..., T]) -> Matching[T] | None:
    """The program as the store's key, the announced UIDs it matches (ascending), the
    highest MODSEQ among them when the program has a MODSEQ key, and `then(conn, folder,
    uids)` on the same snapshot; None (after answering NO) for an unknown charset."""
    view = _view(session)
    if command.charset is not None and command.charset.upper() not in ("UTF-8", "US-ASCII"):
        session.no(command.tag, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset")
        return None
    key = store_key(command.key, view, session.saved)
    if uses_modseq(command.key):
        session.enable_condstore()
    top = view.uids[-1] if view.uids else 0

    def run(conn):  # type: ignore[no-untyped-def]
        result = store_search(conn, view.folder_id, key, top)
        uids = [u for u in result.uids if view.seq_of(u) is not None]
        return uids, result.highest_modseq, then(conn, view.folder_id, uids)

    uids, modseq, extra = await session.backend.read(run)
    return key, uids, (modseq if uses_modseq(command.key) and uids else None), extra


def _results(session: ImapSession, command: c.Search | c.Sort, uids: list[int],
             ordered: list[int], modseq: int | None) -> None:
    """The untagged reply of SEARCH / SORT, or its ESEARCH form with RETURN (RFC 4731,
    5267), remembering the result for `$` when asked to (RFC 5182)."""
    view = _view(session)
    numbers = _numbers(view, ordered, command.uid)
    returns = command.returns
    if returns is None:
        if isinstance(command, c.Sort):
            session.send(sort_reply(numbers, modseq))
        else:
            tail = f" (MODSEQ {modseq})" if modseq else ""
            session.send(f"* SEARCH{''.join(f' {n}' for n in numbers)}{tail}\r\n")
        return
    if not returns.options and returns.partial is None:
        returns = c.SearchReturn(frozenset({"ALL"}))
    if "SAVE" in returns.options:
        session.saved = uids
    if modseq and ordered and returns.options - {"SAVE"} <= {"MIN", "MAX"}:
        ends = {ordered[0] if "MIN" in returns.options else ordered[-1],
                ordered[-1] if "MAX" in returns.options else ordered[0]}
        modseq = max(view.modseqs[view.seq_of(u) - 1] for u in ends)  # type: ignore[operator]
    session.send(esearch_reply(command.tag, numbers, returns, uid=command.uid, modseq=modseq))


async def search(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Search)
    updating = command.returns is not None and "UPDATE" in command.returns.options
    if updating and command.tag in session.contexts:
        session.bad(command.tag, "Tag reuse: that tag names a live search (RFC 5267 §4.3)")
        return
    found = await _matching(session, command, lambda conn, folder, uids: None)
    if found is None:
        return
    key, uids, modseq, _ = found
    _results(session, command, uids, uids, modseq)
    if updating and session.contexts.full:
        session.send(f"* NO [NOUPDATE {text_string(command.tag)}] Too many live searches\r\n")
    elif updating:
        session.contexts.start(_view(session), command.tag, key, command.uid, uids)
    if command.uid:
        await session.report_changes()
    session.ok(command.tag, f"{'UID ' if command.uid else ''}SEARCH completed")


async def sort(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Sort)
    criteria = [(criterion.key, criterion.reverse) for criterion in command.criteria]
    found = await _matching(session, command, lambda conn, folder, uids: sort_uids(
        conn, folder, uids, criteria))
    if found is None:
        return
    _, uids, modseq, ordered = found
    _results(session, command, uids, ordered, modseq)
    if command.returns is not None and "UPDATE" in command.returns.options:
        session.send(f"* NO [NOUPDATE {text_string(command.tag)}] SORT results are not "
                     "kept up to date (no CONTEXT=SORT)\r\n")
    if command.uid:
        await session.report_changes()
    session.ok(command.tag, f"{'UID ' if command.uid else ''}SORT completed")


async def thread(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Thread)
    if command.algorithm not in ("ORDEREDSUBJECT", "REFERENCES"):
        session.no(command.tag, f"[CANNOT] THREAD={command.algorithm} is not offered")
        return
    found = await _matching(session, command, lambda conn, folder, uids: thread_uids(
        conn, folder, uids, command.algorithm))
    if found is None:
        return
    view = _view(session)
    session.send(thread_reply(found[3], None if command.uid else view.seq_of))
    if command.uid:
        await session.report_changes()
    session.ok(command.tag, f"{'UID ' if command.uid else ''}THREAD completed")


async def copy(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Copy | c.Move)
    view = _view(session)
    wanted = view.uid_set(command.messages, command.uid)
    moving = isinstance(command, c.Move)
    if moving and view.read_only:
        session.no(command.tag, "[READ-ONLY] The mailbox is open read-only")
        return
    name = f"{'UID ' if command.uid else ''}{'MOVE' if moving else 'COPY'}"
    try:
        if moving:
            result = await session.backend.write(transfer.move, _account(session),
                                                 view.folder_id, wanted, command.mailbox,
                                                 session.backend.now())
        else:
            result = await session.backend.write(transfer.copy, _account(session),
                                                 view.folder_id, wanted, command.mailbox)
    except MailboxNotFound as error:
        session.no(command.tag, f"[TRYCREATE] {error}")
        return
    code = ""
    if result.source_uids:
        code = (f"[COPYUID {result.uidvalidity} {compact_set(result.source_uids)} "
                f"{compact_set(result.destination_uids)}] ")
    if moving:
        if code:
            session.send(f"* OK {code}Moved\r\n")
            code = ""
        for line in view.remove(result.source_uids):
            session.send(line)
    await session.report_changes()
    session.ok(command.tag, f"{code}{name} completed")


async def expunge(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Expunge)
    view = _view(session)
    if view.read_only:
        session.no(command.tag, "[READ-ONLY] The mailbox is open read-only")
        return
    wanted = None if command.uids is None else view.uid_set(command.uids, True)
    gone = await session.backend.write(transfer.expunge, _account(session), view.folder_id,
                                       wanted, session.backend.now())
    for line in view.remove(gone):
        session.send(line)
    await session.report_changes()
    session.ok(command.tag, f"{'UID ' if command.uids else ''}EXPUNGE completed")


async def cancel_update(session: ImapSession, command: c.Command) -> None:
    """CANCELUPDATE (RFC 5267 §4.3.5): end the live searches named by their tags."""
    assert isinstance(command, c.CancelUpdate)
    unknown = [tag for tag in command.tags if tag not in session.contexts]
    if unknown:
        session.bad(command.tag, f"No live search has the tag {text_string(unknown[0][:40])}")
        return
    for tag in command.tags:
        session.contexts.cancel(tag)
    session.ok(command.tag, "CANCELUPDATE completed")


async def check(session: ImapSession, command: c.Command) -> None:
    await session.report_changes()
    session.ok(command.tag, "CHECK completed")


COMMANDS: dict[type, Handler] = {
    c.Fetch: fetch, c.Store: store, c.Search: search, c.Sort: sort, c.Thread: thread,
    c.CancelUpdate: cancel_update, c.Copy: copy, c.Move: copy,
    c.Expunge: expunge, c.Check: check,
}
