"""plans: an index for the lease watch's look for running runs whose heartbeat is old

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every API process and worker asks every 5 s for running plans with an old heartbeat;
    # without it that is a scan of every plan version ever made (81 ms at a million rows).
    op.create_index("ix_plans_status_heartbeat", "plans", ["status", "heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_plans_status_heartbeat", table_name="plans")
