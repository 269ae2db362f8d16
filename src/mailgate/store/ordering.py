"""SORT and THREAD (RFC 5256, RFC 5957) over messages of one folder.

The keys are worked out once per message at delivery, import and APPEND
(`mailgate.mime.sortkeys`) and kept in the message's `blobs` row (`key_columns`), so both
functions read what they compare in one query and order it in Python — the same order on
SQLite and PostgreSQL whatever the database's collation. Ties go to the lower UID, which is
the mailbox order (RFC 5256: an implicit last criterion of sequence number).

`thread_uids` returns `ThreadNode` trees: a node is a message (`uid`) or, for REFERENCES, a
dummy (`uid` None) standing for a missing parent of several top-level siblings. Every step
is iterative, so a reply chain thousands deep costs no recursion.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, select

from mailgate.db.schema import blobs, messages
from mailgate.mime import SortKeys

_DATE = blobs.c.sent_date  # DATE: this, or else the internal date (`_date`)
_COLUMNS = {
    "ARRIVAL": messages.c.internal_date, "CC": blobs.c.sort_cc, "FROM": blobs.c.sort_from,
    "SIZE": messages.c.size, "SUBJECT": blobs.c.sort_subject, "TO": blobs.c.sort_to,
    "DISPLAYFROM": blobs.c.sort_display_from, "DISPLAYTO": blobs.c.sort_display_to,
}
SORT_KEYS = frozenset({"DATE", *_COLUMNS})
THREAD_ALGORITHMS = frozenset({"ORDEREDSUBJECT", "REFERENCES"})  # not REFS (optional)


def key_columns(keys: SortKeys) -> dict[str, object]:
    """The `blobs` columns that keep a message's sort keys."""
    return {"sort_from": keys.from_mailbox, "sort_to": keys.to_mailbox,
            "sort_cc": keys.cc_mailbox, "sort_display_from": keys.display_from,
            "sort_display_to": keys.display_to, "sort_subject": keys.base_subject,
            "subject_is_reply": keys.is_reply, "message_id": keys.message_id,
            "thread_refs": " ".join(keys.references)}


def sort_uids(conn: Connection, folder_id: int, uids: Iterable[int],
              criteria: Sequence[tuple[str, bool]]) -> list[int]:
    """`uids` (of messages in the folder) in the order of `criteria`, each a sort key of
    `SORT_KEYS` and whether it is REVERSE; UIDs no longer in the folder are left out."""
    names = [name.upper() for name, _ in criteria]
    unknown = sorted(set(names) - SORT_KEYS)
    if unknown:
        raise ValueError(f"unknown sort key {unknown[0]}")
    dated = [_DATE, messages.c.internal_date] if "DATE" in names else []  # rows: uid, these,
    others = {name: _COLUMNS[name] for name in names if name != "DATE"}  # then these
    rows = _rows(conn, folder_id, uids, [*dated, *others.values()])
    position = {name: index for index, name in enumerate(others, 1 + len(dated))}
    for name, (_, reverse) in reversed(list(zip(names, criteria, strict=True))):
        # Stable sorts from the last criterion to the first, starting from UID order:
        # equal keys keep the previous order, even with reverse=True.
        if name == "DATE":
            rows.sort(key=lambda row: _date(row[1], row[2]), reverse=reverse)
        else:
            rows.sort(key=itemgetter(position[name]), reverse=reverse)
    return [row[0] for row in rows]


@dataclass(eq=False)
class ThreadNode:
    """One message of a thread (`uid`), or a dummy (`uid` None); `children` in order."""

    uid: int | None
    children: list[ThreadNode] = field(default_factory=list)


def thread_uids(conn: Connection, folder_id: int, uids: Iterable[int], algorithm: str
                ) -> list[ThreadNode]:
    """The threads of `uids` by ORDEREDSUBJECT or REFERENCES (RFC 5256), in order."""
    algorithm = algorithm.upper()
    if algorithm not in THREAD_ALGORITHMS:
        raise ValueError(f"unknown threading algorithm {algorithm}")
    rows = _rows(conn, folder_id, uids, [
        _DATE, messages.c.internal_date, blobs.c.sort_subject, blobs.c.subject_is_reply,
        blobs.c.message_id, blobs.c.thread_refs])
    found = [_Message(uid, _date(sent, internal), subject, bool(reply), message_id,
                      refs.split() if refs else [])
             for uid, sent, internal, subject, reply, message_id, refs in rows]
    if algorithm == "ORDEREDSUBJECT":
        return _ordered_subject(found)
    return _references(found)


def _rows(conn: Connection, folder_id: int, uids: Iterable[int], columns: list[Any]
          ) -> list[tuple[Any, ...]]:
    """(uid, *columns) of the wanted messages in UID order, in one query.

    The query reads the folder's UID span of the wanted messages and the set filters it:
    at worst the whole folder, which is what the common SORT ... ALL reads anyway.
    """
    wanted = set(uids)
    if not wanted:
        return []
    query = (select(messages.c.uid, *columns)
             .join(blobs, blobs.c.digest == messages.c.digest)
             .where(messages.c.folder_id == folder_id,
                    messages.c.uid.between(min(wanted), max(wanted)))
             .order_by(messages.c.uid))
    return [(int(row[0]), *row[1:]) for row in conn.execute(query) if row[0] in wanted]


def _date(sent: float | None, internal: float) -> float:
    """The sent date of RFC 5256 §2.2: the Date header in UTC, else the internal date."""
    return float(internal if sent is None else sent)


@dataclass(eq=False)
class _Message:
    uid: int
    date: float
    subject: str
    is_reply: bool
    message_id: str | None
    references: list[str]


def _ordered_subject(found: list[_Message]) -> list[ThreadNode]:
    """Group by base subject; each thread is its first message (by sent date) with the
    rest as its children; threads ordered by their first message."""
    groups: dict[str, list[_Message]] = {}
    for message in found:
        groups.setdefault(message.subject, []).append(message)
    threads = []
    for group in groups.values():
        group.sort(key=lambda m: m.date)  # stable: UID order on equal dates
        threads.append((group[0].date, group[0].uid,
                        ThreadNode(group[0].uid, [ThreadNode(m.uid) for m in group[1:]])))
    threads.sort(key=lambda thread: thread[:2])
    return [node for _, _, node in threads]


@dataclass(eq=False)
class _Container:
    """A node while REFERENCES threads: a message, or a dummy (`message` None)."""

    message: _Message | None = None
    parent: _Container | None = None
    children: list[_Container] = field(default_factory=list)

    def adopt(self, child: _Container) -> None:
        child.parent = self
        self.children.append(child)

    def orphan(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None

    def has_descendant(self, other: _Container) -> bool:
        """True if `other` is this container or below it."""
        if not self.children:
            return other is self
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def is_reply(self) -> bool:
        return self.message is not None and self.message.is_reply

    def first(self) -> _Message:
        """The message that stands for this container: its own, or its first child's."""
        node = self
        while node.message is None:
            node = node.children[0]
        return node.message


def _references(found: list[_Message]) -> list[ThreadNode]:
    """The REFERENCES algorithm, RFC 5256 §BASE.6.4.THREAD steps 1 to 6."""
    by_id: dict[str, _Container] = {}
    containers = []
    for message in found:  # (1) link messages to their references, in mailbox order
        own = by_id.get(message.message_id) if message.message_id else None
        if own is None or own.message is not None:  # no ID, or a duplicate: a unique one
            own = _Container()
            containers.append(own)
            if message.message_id and message.message_id not in by_id:
                by_id[message.message_id] = own
        own.message = message
        previous: _Container | None = None
        for reference in message.references:  # (1A)
            container = by_id.get(reference)
            if container is None:
                container = by_id[reference] = _Container()
                containers.append(container)
            if (previous is not None and container.parent is None
                    and not container.has_descendant(previous)):
                previous.adopt(container)
            previous = container
        # (1B) the last reference becomes the parent, unless that would make a loop
        if own.parent is not previous:
            own.orphan()
            if previous is not None and not own.has_descendant(previous):
                previous.adopt(own)
    roots = [c for c in containers if c.parent is None]  # (2)
    roots = _prune(roots)  # (3)
    for root in roots:  # (4)
        if root.message is None:
            root.children.sort(key=_date_key)
    roots.sort(key=_date_key)
    roots = _merge_by_subject(roots)  # (5)
    for node in _post_order(roots):  # (6) children before parents
        node.children.sort(key=_date_key)
    roots.sort(key=_date_key)
    return _nodes(roots)


def _date_key(container: _Container) -> tuple[float, int]:
    message = container.first()
    return message.date, message.uid


def _post_order(roots: list[_Container]) -> Iterator[_Container]:
    stack = [(node, False) for node in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children))


def _prune(roots: list[_Container]) -> list[_Container]:
    """(3) Dummies go: an empty one is dropped, one with children is replaced by them —
    at the top level only when it has a single child."""
    for node in _post_order(roots):  # a node's children are pruned before it is seen
        kept = []
        for child in node.children:
            if child.message is None:
                for grandchild in child.children:
                    grandchild.parent = node
                kept.extend(child.children)
            else:
                kept.append(child)
        node.children = kept
    top = []
    for root in roots:
        if root.message is None and len(root.children) <= 1:
            for child in root.children:
                child.parent = None
            top.extend(root.children)
        else:
            top.append(root)
    return top


def _merge_by_subject(roots: list[_Container]) -> list[_Container]:
    """(5) Top-level threads with the same base subject are put together."""
    table: dict[str, _Container] = {}
    for root in roots:  # (5B)
        subject = root.first().subject
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (held.message is not None and (
                root.message is None or (held.is_reply() and not root.is_reply()))):
            table[subject] = root
    merged: list[_Container] = []
    position: dict[int, int] = {}
    for root in roots:  # (5C)
        subject = root.first().subject
        held = table.get(subject) if subject else None
        if held is None or held is root:
            position[id(root)] = len(merged)
            merged.append(root)
        elif held.message is None and root.message is None:
            for child in root.children:
                held.adopt(child)
            root.children = []
        elif held.message is None or (root.is_reply() and not held.is_reply()):
            held.adopt(root)
        else:
            # `held` is an earlier root: a later root replaces a message in the table only
            # when it is a dummy, or not a reply where that one is, both merged above.
            dummy = _Container()
            at = position[id(held)]
            dummy.adopt(held)
            dummy.adopt(root)
            table[subject] = dummy
            merged[at] = dummy
            position[id(dummy)] = at
    return merged


def _nodes(roots: list[_Container]) -> list[ThreadNode]:
    """The containers as ThreadNodes, built without recursion."""
    made: dict[int, ThreadNode] = {}
    for container in _post_order(roots):
        made[id(container)] = ThreadNode(
            container.message.uid if container.message else None,
            [made.pop(id(child)) for child in container.children])
    return [made.pop(id(root)) for root in roots]
