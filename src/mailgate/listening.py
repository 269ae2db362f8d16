"""Binding `serve`'s listening sockets, all of them before anything starts.

A port already in use (or an address this host does not have) is then one clear error naming
the listener, and nothing is left half-started: the sockets bound so far are closed again.
"""

from __future__ import annotations

import errno
import os
import socket

from mailgate.config import Settings

BACKLOG = 1024


class ListenerError(Exception):
    """A listener could not bind its address; the message names both and the way out."""


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(name: str, host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
        # Replies written in pieces (untagged lines, then the tagged one) must not wait for
        # the client's delayed ACK (Nagle: about 40 ms each). asyncio turns Nagle off only
        # on sockets whose proto is IPPROTO_TCP, which create_server's are not; accepted
        # connections inherit the option from the listening socket.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    except OSError as exc:
        # the system's own words ("Address already in use"); a name lookup's are negative
        known = isinstance(exc.errno, int) and exc.errno > 0
        reason = (os.strerror(exc.errno) if known else exc.strerror or str(exc)).lower()
        advice = "stop what listens there or " if exc.errno == errno.EADDRINUSE else ""
        raise ListenerError(f"cannot listen for {name} on {_show(host, port)}: {reason}; "
                            f"{advice}change listen.{name} (MAILGATE_LISTEN_{name.upper()})"
                            ) from None


def bind_listeners(settings: Settings, names: tuple[str, ...]) -> dict[str, socket.socket]:
    """A bound, listening socket for each configured listener among `names` (an empty
    `listen` value turns one off); ListenerError, with none left bound, if any fails."""
    bound: dict[str, socket.socket] = {}
    try:
        for name in names:
            where = settings.listener(name)
            if where is not None:
                bound[name] = _bind(name, *where)
    except BaseException:
        for sock in bound.values():
            sock.close()
        raise
    return bound
