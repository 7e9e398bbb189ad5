"""parked deliveries keep when they first reached the queue

Before, a parked delivery queued again (`livecart inbox retry`) counted as arriving then, so its
comments went behind later ones in the waitlist. Rows parked before this revision keep the
nearest time known of them: when they were parked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_parked", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE inbox_parked SET received_at = parked_at")
    with op.batch_alter_table("inbox_parked", schema=None) as batch_op:
        batch_op.alter_column("received_at", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_parked", schema=None) as batch_op:
        batch_op.drop_column("received_at")
