"""Every Redis key name livecart uses, built in one place from one prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = "livecart"

    @property
    def inbox(self) -> str:
        return f"{self.prefix}:inbox"

    @property
    def inbox_parked(self) -> str:
        return f"{self.prefix}:inbox:parked"

    @property
    def inbox_group(self) -> str:
        return f"{self.prefix}:workers"

    # One {hash tag} per SKU: a script touching a SKU's keys runs on one Redis Cluster slot.
    def stock(self, sku: str) -> str:
        return f"{self.prefix}:stock:{{{sku}}}"

    def stock_takes(self, sku: str) -> str:
        return f"{self.prefix}:stock:{{{sku}}}:takes"

    def stock_releases(self, sku: str) -> str:
        return f"{self.prefix}:stock:{{{sku}}}:releases"

    # A sender's pace per account and lane (storage/redis_buckets.py).
    def rate(self, key: str) -> str:
        return f"{self.prefix}:rate:{key}"
