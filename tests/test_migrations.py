"""The models and the migrations describe the same schema, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from storage.db import create_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Base, Order


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
