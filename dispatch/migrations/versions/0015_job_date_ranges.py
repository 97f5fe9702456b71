"""the days a job may be done on (date_from, date_to), its preferred date, its length in days

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("date_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("date_to", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("preferred_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("days", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("days")
        batch_op.drop_column("preferred_date")
        batch_op.drop_column("date_to")
        batch_op.drop_column("date_from")
