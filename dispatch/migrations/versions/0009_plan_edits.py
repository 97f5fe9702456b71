"""plans edited by hand: the plan a version was edited from, its locks and a recorded override

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_from", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("locks", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("override", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("override")
        batch_op.drop_column("locks")
        batch_op.drop_column("edited_from")
