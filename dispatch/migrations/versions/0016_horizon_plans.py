"""plans over several days: a run's last day (date_to), and the run a day's plan came from (horizon_id)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("date_to", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("horizon_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_plans_horizon_id", ["horizon_id"])


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_horizon_id")
        batch_op.drop_column("horizon_id")
        batch_op.drop_column("date_to")
