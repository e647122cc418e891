"""chat pauses (a 429 or a backoff holds every pending delivery of one chat) and the
pending-queue index the claim reads each chat's head from

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_pauses",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "address"),
    )
    op.create_index(
        "ix_deliveries_pending_queue",
        "deliveries",
        ["status", "platform", "address", sa.text("priority DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending_queue", table_name="deliveries")
    op.drop_table("chat_pauses")
