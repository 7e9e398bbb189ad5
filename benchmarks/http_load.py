"""A lean HTTP/1.1 load generator: keep-alive connections sending prepared requests.

aiohttp's client spends about as much CPU on a request as the server does answering it, so on a
two-core machine it, not the server, set the pace of a server that answers without storing
anything. Here every request's bytes are prepared before the clock starts, and a response is
read only as far as its status and Content-Length; what is left for the server is most of the
machine.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_HEAD_END = b"\r\n\r\n"


def post_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One POST's bytes on the wire, as a client would send it."""
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request at a time, answered with its response status."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._answer: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self._transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        if self._transport.is_closing():
            self._fail(ConnectionError("the server closed the connection"))
        else:
            self._transport.write(request)
        return self._answer

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head_end = self._buffer.find(_HEAD_END)
        if head_end < 0:
            return
        length = _CONTENT_LENGTH.search(self._buffer, 0, head_end + 2)
        if length is None:
            self._fail(ConnectionError("a response without Content-Length"))
            return
        end = head_end + len(_HEAD_END) + int(length[1])
        if len(self._buffer) < end:
            return
        status = int(self._buffer[9:12])
        del self._buffer[:end]
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"the connection was lost ({exc or 'closed by the server'})"))

    def _fail(self, problem: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(problem)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@dataclass(slots=True)
class Load:
    per_second: float
    latencies: list[float] = field(default_factory=list)
    answered_200: int = 0
    errors: int = 0


async def send_all(
    host: str,
    port: int,
    requests: Sequence[bytes],
    connections: int,
    *,
    answer_within: float = 30.0,
) -> Load:
    """Every request once, over `connections` connections each sending its next as soon as the
    last is answered. A status other than 200, a broken connection, an answer slower than
    `answer_within` seconds and a request left unsent count as errors; the rate counts answers
    only."""
    loop = asyncio.get_running_loop()
    opened: list[_Connection] = []
    load = Load(0.0)
    next_request = iter(requests)

    async def drive(connection: _Connection) -> None:
        for request in next_request:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(answer_within):
                    status = await connection.send(request)
            except (ConnectionError, TimeoutError):
                load.errors += 1
                connection.close()
                return
            load.latencies.append(time.perf_counter() - started)
            if status == 200:
                load.answered_200 += 1
            else:
                load.errors += 1

    try:
        for _ in range(connections):
            opened.append((await loop.create_connection(_Connection, host, port))[1])
        started = time.perf_counter()
        await asyncio.gather(*(drive(connection) for connection in opened))
        elapsed = time.perf_counter() - started
    finally:
        for connection in opened:
            connection.close()
    load.errors += sum(1 for _ in next_request)  # every connection broke before these
    load.per_second = len(load.latencies) / elapsed
    return load
