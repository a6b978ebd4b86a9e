"""An asyncio TCP proxy the test owns: forward, freeze (hold bytes, keep sockets) or cut."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ops.processes import free_port

log = logging.getLogger("faults.proxy")
CHUNK = 64 * 1024


class TcpProxy:
    """`127.0.0.1:<port>` → `upstream`; what PostgreSQL or Temporal look like from behind a
    network that stalls (freeze) or drops (cut), without touching the shared server itself."""

    def __init__(self, upstream_host: str, upstream_port: int, name: str = "proxy") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.name = name
        self.port = free_port()
        self.mode = "forwarding"
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )

    def freeze(self) -> None:
        """Stop forwarding in both directions; every socket stays open, so peers just wait."""
        self.mode = "frozen"
        self._flowing.clear()

    async def cut(self) -> None:
        """Close every connection and refuse new ones (the listener is closed)."""
        self.mode = "cut"
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._drop_all()
        self._flowing.set()  # nothing is held back any more: there is nothing to hold

    async def restore(self) -> None:
        """Forward again: held bytes flow on; after a cut, new connections are accepted."""
        if self._server is None:
            await self._listen()
        self.mode = "forwarding"
        self._flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            transport = writer.transport
            # abort, not close: a cut network does not finish pending writes politely.
            transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.transport.abort()
            return
        self._writers.add(writer)
        # A frozen network lets the connect succeed but never answers; wait for it here.
        await self._flowing.wait()
        if self.mode == "cut" or writer.transport.is_closing():
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(CHUNK):
                await self._flowing.wait()
                if sink.transport.is_closing():
                    break
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            with contextlib.suppress(Exception):
                if self.mode == "cut":
                    sink.transport.abort()
                else:
                    sink.close()
