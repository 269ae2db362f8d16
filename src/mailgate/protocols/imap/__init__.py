"""The IMAP door's protocol layer, sans-IO: bytes in, typed commands out (h11 style).

No sockets, no asyncio, no database: pure functions and dataclasses that the session state
machine drives. One connection uses it like this::

    framer = CommandFramer(Limits(literal=append_limit, literal_minus=False))
    framer.receive_data(data)                       # whatever the socket gave, any chunking
    while True:
        event = framer.next_event()
        if event is NEED_DATA:
            break                                   # read more
        if isinstance(event, NeedContinuation):
            send(b"+ Ready for literal data\\r\\n")
        elif isinstance(event, FramingError):
            send(f"{event.tag} BAD [TOOBIG] {event.message}")  # per event.kind; see framer
        else:                                       # Received
            command = parse_command(event.command, utf8=utf8_enabled)
            if isinstance(command, ParseError):
                send(f"{command.tag} BAD {command.message}")
            else:
                ...                                 # match command: case Fetch(...): ...

What each module gives:

- `framer`: `CommandFramer`, `Limits`, the events (`NEED_DATA`, `Received`,
  `NeedContinuation`, `FramingError` with its `FramingProblem`), `RawCommand`. Literals:
  `{n}` (synchronizing: `NeedContinuation`), `{n+}` (LITERAL+ / LITERAL- via
  `Limits.literal_minus`), `~{n}` (literal8). `framer.clear()` after STARTTLS;
  `next_event(plain_line=True)` to read the answer to a continuation request that is not a
  literal (an AUTHENTICATE response, IDLE's DONE) and `continuation_line(raw)` to get it as
  text. Memory stays bounded by `Limits` whatever the client sends.
- `parser`: `parse_command(raw, utf8=False) -> Command | ParseError`; never raises. `utf8`
  is True once IMAP4rev2 or UTF8=ACCEPT is enabled (mailbox names in UTF-8, else modified
  UTF-7). Syntax only: state rules, existence and permissions are the session's.
- `commands`: one frozen dataclass per command (`Fetch`, `Store`, `Search`, `Append`, ...;
  the `Command` union) and `ParseError(tag, message)`. Their docstrings say what each field
  holds. The grammar covers IMAP4rev1 (RFC 3501), IMAP4rev2 (RFC 9051), LITERAL+/LITERAL-,
  UIDPLUS, MOVE, SPECIAL-USE, LIST-EXTENDED, LIST-STATUS, NAMESPACE, ID, ENABLE, UNSELECT,
  CONDSTORE/QRESYNC, QUOTA, ESEARCH (with SAVE and "$"), CONTEXT=SEARCH/SORT (PARTIAL,
  UPDATE, CANCELUPDATE), SORT/ESORT, THREAD, COMPRESS=DEFLATE, SASL-IR, MULTIAPPEND,
  CATENATE, BINARY, IDLE, SEARCH YOUNGER/OLDER, NOTIFY (grammar in `notify`). Other
  commands are BAD.
- `search`: the search-key AST (`SearchKey`); `fetch`: the fetch items (`FetchItem`,
  `Section`); `sequences`: `SequenceSet` (`resolve(largest)` turns "*" into numbers).
- `names`: `encode_mailbox_name` / `decode_mailbox_name` (modified UTF-7 or UTF-8).
- `wire`: writing replies: `render(value)`, `text_string`, `mailbox`, `compact_set`, `Atom`.
"""
