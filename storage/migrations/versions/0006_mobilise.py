"""mobilisation answers remember when the call's coordinator was told them, so the
notices of a burst of answers go out together, once per count window

Revision ID: 0006mobilise
Revises: 0005people
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006mobilise"
down_revision: str | None = "0005people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mobilisation_answers") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mobilisation_answers") as batch:
        batch.drop_column("notified_at")
