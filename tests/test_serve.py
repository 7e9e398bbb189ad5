"""`livecart serve` as a process: it listens, migrates the embedded default, checks its services."""

from pathlib import Path

import aiohttp

from tests.cli import clean_env, free_port, livecart, serving
from tests.conftest import PostgresDatabases


async def _health(base: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as response:
        return response.status, await response.json()


async def test_serve_on_the_embedded_default_migrates_itself_and_is_healthy(
    tmp_path: Path,
) -> None:
    with serving(clean_env(), tmp_path) as base:
        status, body = await _health(base)
    assert status == 200
    assert body == {"status": "ok", "database": "ok"}
    assert (tmp_path / "livecart.db").exists()


async def test_healthz_checks_redis_when_it_is_configured(tmp_path: Path, redis_url: str) -> None:
    with serving(clean_env(REDIS_URL=redis_url), tmp_path) as base:
        status, body = await _health(base)
    assert status == 200
    assert body == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_healthz_reports_a_redis_that_does_not_answer(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with serving(clean_env(REDIS_URL=dead), tmp_path) as base:
        status, body = await _health(base)
    assert status == 503
    assert body == {"status": "unavailable", "database": "ok", "redis": "unavailable"}


def test_serve_on_postgresql_wants_the_schema_migrated_first(
    tmp_path: Path, postgres: PostgresDatabases
) -> None:
    empty = postgres.create(migrated=False)
    result = livecart("serve", env=clean_env(DATABASE_URL=empty), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "run `livecart db upgrade` first" in lines[0]


async def test_serve_on_a_migrated_database(tmp_path: Path, database_url: str) -> None:
    with serving(clean_env(DATABASE_URL=database_url), tmp_path) as base:
        status, body = await _health(base)
    assert (status, body["database"]) == (200, "ok")


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    env = clean_env()
    with serving(env, tmp_path) as base:
        port = base.rsplit(":", 1)[1]
        result = livecart("serve", env={**env, "PORT": port}, cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
