"""the lags of a job's dependency (depends_on): minimum and maximum, in minutes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("depends_min_lag_min", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("depends_max_lag_min", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("depends_max_lag_min")
        batch_op.drop_column("depends_min_lag_min")
