"""A PostgreSQL proxy that counts round trips on the wire, whatever the client library does.

Every round trip of the frontend/backend protocol ends with the server's `ReadyForQuery`
('Z'): a simple query, an extended-protocol `Sync`, a `BEGIN` or a `COMMIT` alike. Counting
those messages counts exactly what a statement costs in latency, with no hook in the code
under measurement. Connect with `sslmode=disable` so the stream stays readable.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url


class RoundTrips:
    """The count of `ReadyForQuery` messages the server sent through the proxy."""

    def __init__(self) -> None:
        self.count = 0


async def _pipe_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _pipe_server(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: RoundTrips
) -> None:
    """Forward the server's messages, counting each ReadyForQuery (header: 'Z', length 5)."""
    try:
        while True:
            header = await reader.readexactly(5)
            kind, length = header[:1], struct.unpack("!I", header[1:])[0]
            body = await reader.readexactly(length - 4)
            if kind == b"Z":
                counter.count += 1
            writer.write(header + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def counting_proxy(database_url: str) -> AsyncIterator[tuple[str, RoundTrips]]:
    """(the URL through the proxy, its counter) for as long as the context is open."""
    url = make_url(database_url)
    host, port = url.host or "127.0.0.1", url.port or 5432
    counter = RoundTrips()

    async def accept(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, port)
        await asyncio.gather(
            _pipe_client(client_r, server_w),
            _pipe_server(server_r, client_w, counter),
            return_exceptions=True,
        )

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    query = dict(url.query)
    query["sslmode"] = "disable"
    proxied = url.set(host="127.0.0.1", port=proxy_port, query=query)
    try:
        yield proxied.render_as_string(hide_password=False), counter
    finally:
        server.close()
