"""The shared Redis client: a blocking pool, so a burst waits for a connection, not fails."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def connect_redis(url: str, *, max_connections: int = 64) -> Redis:
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10)
    return Redis(connection_pool=pool)
