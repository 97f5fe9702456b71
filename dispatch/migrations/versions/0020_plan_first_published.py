"""plans: when a plan version was first published (None: never), so that the versions of
a day once published are known after a later one replaced them

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 10:00:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_published_at", sa.DateTime(), nullable=True))
    # The versions published before: the feed told each publication (``plan.published``),
    # and the pointers name the current ones.
    feed = sa.table("feed_events", sa.column("at", sa.DateTime()), sa.column("type"), sa.column("data", sa.JSON()))
    pointers = sa.table("published_plans", sa.column("plan_id"), sa.column("published_at", sa.DateTime()))
    plans = sa.table("plans", sa.column("id"), sa.column("first_published_at", sa.DateTime()))
    connection = op.get_bind()
    first: dict[int, dt.datetime] = {}
    told = connection.execute(sa.select(feed.c.at, feed.c.data).where(feed.c.type == "plan.published"))
    for at, data in told:
        plan_id = data.get("plan_id") if isinstance(data, dict) else None
        if isinstance(plan_id, int) and (plan_id not in first or at < first[plan_id]):
            first[plan_id] = at
    for plan_id, at in connection.execute(sa.select(pointers.c.plan_id, pointers.c.published_at)):
        first.setdefault(plan_id, at)
    for plan_id, at in sorted(first.items()):
        connection.execute(plans.update().where(plans.c.id == plan_id).values(first_published_at=at))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("first_published_at")
