"""SQLAlchemy models, migrations, repositories and the stock counters (SQL and Redis)."""
