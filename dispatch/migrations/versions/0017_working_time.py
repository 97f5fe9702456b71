"""working time: weekly shift templates (week_shifts) and absences of technicians

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "week_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_min", sa.Integer(), nullable=False),
        sa.Column("end_min", sa.Integer(), nullable=False),
        sa.Column("break_earliest_min", sa.Integer(), nullable=True),
        sa.Column("break_latest_min", sa.Integer(), nullable=True),
        sa.Column("break_duration_min", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("technician_id", "weekday"),
    )
    op.create_index(op.f("ix_week_shifts_technician_id"), "week_shifts", ["technician_id"], unique=False)
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_absences_technician_id"), "absences", ["technician_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_absences_technician_id"), table_name="absences")
    op.drop_table("absences")
    op.drop_index(op.f("ix_week_shifts_technician_id"), table_name="week_shifts")
    op.drop_table("week_shifts")
