"""the lags of a job's dependency in working days: minimum and maximum

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("depends_min_lag_days", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("depends_max_lag_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("depends_max_lag_days")
        batch_op.drop_column("depends_min_lag_days")
