"""The models and the migrations describe the same schema, on both databases."""

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from storage.db import create_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.models import Base, InboxParked, Order
from storage.types import UTCDateTime


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        before, after = await upgrade(engine)
        assert (before, after) == (None, head_revision())
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
        assert await upgrade(engine) == (head_revision(), head_revision())
    finally:
        await engine.dispose()


async def test_orders_keep_room_for_total_updates_on_postgresql(postgres_url: str) -> None:
    """The migrated schema and one made from the models agree on the orders table's fillfactor."""
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            options = await connection.scalar(
                text("SELECT reloptions FROM pg_class WHERE relname = 'orders'")
            )
            from_models = str(CreateTable(Order.__table__).compile(dialect=connection.dialect))
    finally:
        await engine.dispose()
    assert options == ["fillfactor=70"]
    assert "WITH (fillfactor = 70)" in from_models


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_deliveries_parked_before_arrival_times_were_kept_keep_their_parking_time(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    parked_at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0004")
            await connection.execute(
                text(
                    "INSERT INTO inbox_parked (body, attempts, error, parked_at)"
                    " VALUES (:body, 5, 'ValueError: bad', :at)"
                ).bindparams(bindparam("at", type_=UTCDateTime())),
                {"body": b"old", "at": parked_at},
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            rows = (await connection.execute(select(InboxParked.received_at))).all()
    finally:
        await engine.dispose()
    assert rows == [(parked_at,)]
