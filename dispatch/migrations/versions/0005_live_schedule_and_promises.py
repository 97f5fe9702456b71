"""the live schedule and promises: working_plans becomes live_schedules (with the
published plan it follows), jobs carry a confirmed promise, visits the customer's
window, plans the live-schedule version they started from

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.rename_table("working_plans", "live_schedules")
    with op.batch_alter_table("live_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("promised_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("promised_end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("plan_visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("window_end", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_version", sa.Integer(), nullable=True))
    # A booking was always a promise: its slot is the promised window.
    op.execute(
        "UPDATE jobs SET confirmed = booked, "
        "promised_start = (SELECT b.slot_start FROM bookings b WHERE b.job_id = jobs.id AND b.status = 'booked'), "
        "promised_end = (SELECT b.slot_end FROM bookings b WHERE b.job_id = jobs.id AND b.status = 'booked')"
    )


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("base_version")
    with op.batch_alter_table("plan_visits", schema=None) as batch_op:
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("promised_end")
        batch_op.drop_column("promised_start")
        batch_op.drop_column("confirmed")
    with op.batch_alter_table("live_schedules", schema=None) as batch_op:
        batch_op.drop_column("plan_id")
    op.rename_table("live_schedules", "working_plans")
