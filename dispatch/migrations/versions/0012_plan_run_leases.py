"""plan runs on a task engine: the attempt, its task token, the worker and its heartbeat

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("task_token", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("worker", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("worker")
        batch_op.drop_column("task_token")
        batch_op.drop_column("attempt")
