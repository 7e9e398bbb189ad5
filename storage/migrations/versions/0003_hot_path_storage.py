"""drop two indexes every order pays for and no query uses; room for cart updates

`comments.status` was indexed, but nothing looks comments up by status alone; `order_lines`
had an index on `order_id` beside UNIQUE (order_id, sku), which serves the same look-ups.
On PostgreSQL, `orders` pages keep room (fillfactor 70) for the new versions that total updates
write, so that those updates leave the table's five indexes alone (heap-only tuples).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE orders SET (fillfactor = 70)")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comments_status"))
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_lines_order_id"))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE orders RESET (fillfactor)")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_lines_order_id"), ["order_id"])
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comments_status"), ["status"])
