"""re-plans from an instant (plans.replan_from, plans.changes) and disruptions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replan_from", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))
    op.create_table(
        "disruptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("technician_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("job_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("from_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("until_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("expected_end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_disruptions_date"), "disruptions", ["date"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_disruptions_date"), table_name="disruptions")
    op.drop_table("disruptions")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("changes")
        batch_op.drop_column("replan_from")
