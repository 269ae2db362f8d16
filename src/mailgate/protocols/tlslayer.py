"""asyncio's TLS layer for the mail doors, without a 256 KiB receive buffer per connection.

asyncio's `SSLProtocol` gives every TLS connection its own 256 KiB receive buffer and keeps it
for the connection's whole life: 1 500 TLS sessions hold 375 MiB of buffers that are each used
for an instant, and after they close glibc keeps most of that memory (defect 11). Here the
connections of one event loop share one receive buffer. That is safe on the selector event
loop mailgate runs on (Linux): the socket transport fills the buffer with `recv_into()` and
calls `buffer_updated()` at once, which copies the bytes into that connection's TLS input
before anything else runs, so no two connections ever use the buffer at the same time.
Everything else is asyncio's own TLS code.

`implicit_tls()` wraps a protocol factory for a TLS port (pop3s; imaps and submissions to
come); `start_tls()` upgrades a plaintext connection (STLS, STARTTLS) like `loop.start_tls()`.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from asyncio import sslproto
from collections.abc import Callable
from typing import Any

_receive_buffers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = (
    weakref.WeakKeyDictionary()
)


class _SharedBufferSSLProtocol(sslproto.SSLProtocol):
    """`SSLProtocol` reading into its event loop's one receive buffer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *args: Any, **kwargs: Any) -> None:
        super().__init__(loop, *args, **kwargs)
        shared = _receive_buffers.get(loop)
        if shared is None:
            shared = _receive_buffers[loop] = memoryview(bytearray(self.max_size))
        # The two attributes get_buffer() and buffer_updated() read (Python 3.11 to 3.13).
        self._ssl_buffer = shared.obj
        self._ssl_buffer_view = shared


def implicit_tls(
    protocol_factory: Callable[[], asyncio.Protocol],
    context: ssl.SSLContext,
    handshake_timeout: float,
) -> Callable[[], asyncio.BufferedProtocol]:
    """A factory for `loop.create_server` (without its `ssl=`) serving TLS from the first
    byte: each connection's protocol sees `connection_made` once the handshake is done."""
    loop = asyncio.get_running_loop()

    def make() -> asyncio.BufferedProtocol:
        return _SharedBufferSSLProtocol(loop, protocol_factory(), context, None,
                                        server_side=True,
                                        ssl_handshake_timeout=handshake_timeout)

    return make


async def start_tls(
    transport: asyncio.Transport,
    protocol: asyncio.Protocol,
    context: ssl.SSLContext,
    handshake_timeout: float,
) -> asyncio.Transport:
    """The server side of STLS/STARTTLS on `transport`, as `loop.start_tls()` does it.

    Returns the TLS transport `protocol` must use from now on; raises when the handshake
    fails (the connection is then closed)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    tls = _SharedBufferSSLProtocol(loop, protocol, context, waiter, server_side=True,
                                   ssl_handshake_timeout=handshake_timeout,
                                   call_connection_made=False)
    # Paused until the TLS protocol has seen connection_made(), as in loop.start_tls().
    transport.pause_reading()
    transport.set_protocol(tls)
    connected = loop.call_soon(tls.connection_made, transport)
    resumed = loop.call_soon(transport.resume_reading)
    try:
        await waiter
    except BaseException:
        transport.close()
        connected.cancel()
        resumed.cancel()
        raise
    return tls._app_transport  # type: ignore[no-any-return]  # what loop.start_tls returns
