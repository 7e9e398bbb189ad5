"""Real services for tests: a fresh SQLite file or PostgreSQL database per test, and a Redis key
prefix per test, so runs never see each other's data.

A service that is not answering skips its tests with a reason naming it, unless
LIVECART_REQUIRE_SERVICES=1, when it fails them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import NoReturn

import aiohttp
import asyncpg
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade

REQUIRE_SERVICES = os.environ.get("LIVECART_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN = os.environ.get(
    "LIVECART_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LIVECART_TEST_REDIS", "redis://127.0.0.1:6379/0")
RUN = uuid.uuid4().hex[:8]


def service_unavailable(service: str, why: str) -> NoReturn:
    message = f"{service} is not available ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and LIVECART_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def _asyncpg_dsn(database: str) -> str:
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database}"


def _sqlalchemy_pg_url(database: str) -> str:
    return _asyncpg_dsn(database).replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class PostgresDatabases:
    """Creates throw-away databases, empty or cloned from a migrated template."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.template: str | None = None

    def create(self, *, migrated: bool) -> str:
        name = f"lc_{RUN}_{len(self.created)}"
        template = f" TEMPLATE {self._migrated_template()}" if migrated else ""
        asyncio.run(_admin(f'CREATE DATABASE "{name}"{template}'))
        self.created.append(name)
        return _sqlalchemy_pg_url(name)

    def _migrated_template(self) -> str:
        if self.template is None:
            name = f"lc_{RUN}_template"
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            self.created.append(name)
            asyncio.run(_migrate(_sqlalchemy_pg_url(name)))
            self.template = name
        return self.template

    def drop_all(self) -> None:
        for name in reversed(self.created):
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        service_unavailable(f"PostgreSQL at {POSTGRES_ADMIN}", type(error).__name__)
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture
def postgres_url(postgres: PostgresDatabases) -> str:
    """A migrated PostgreSQL database of its own for one test (PostgreSQL-only tests)."""
    return postgres.create(migrated=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database with no schema, on each backend."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    return databases.create(migrated=False)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated database of its own for one test, on each backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "livecart.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    return databases.create(migrated=True)


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = SyncRedis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except RedisError as error:
        service_unavailable(f"Redis at {REDIS_URL}", type(error).__name__)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"lctest:{RUN}:{uuid.uuid4().hex[:8]}"
    yield prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"database_url": database_url, **overrides}
        return Settings(**values)  # type: ignore[arg-type]

    return make


APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
STAFF_TOKEN = "test-staff-token"


@pytest.fixture(params=["database", "redis"])
def queue_backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def runtime_settings(
    queue_backend: str, database_url: str, request: pytest.FixtureRequest
) -> Settings:
    redis: dict[str, object] = {}
    if queue_backend == "redis":
        redis = {
            "redis_url": request.getfixturevalue("redis_url"),
            "redis_prefix": request.getfixturevalue("redis_prefix"),
        }
    return Settings(
        database_url=database_url,
        meta_app_secret=APP_SECRET,
        meta_verify_token=VERIFY_TOKEN,
        staff_token=STAFF_TOKEN,
        **redis,  # type: ignore[arg-type]
    )


@pytest.fixture
async def runtime(runtime_settings: Settings) -> AsyncIterator[Runtime]:
    """The real composition root on a fresh database, with the database or Redis queue."""
    async with open_runtime(runtime_settings, migrate=False) as opened:
        yield opened


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for tests that talk to a server on a real port."""
    async with aiohttp.ClientSession() as session:
        yield session
