"""Lookup guards (an atomic lockout), verified order numbers on escalations, one
rating per rating request.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_guards",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("touched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        # Escalations from before this revision showed numbers nobody had checked.
        batch_op.add_column(
            sa.Column("order_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_ratings_conversation_request", ["conversation_id", "request_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ratings_conversation_request", type_="unique")
        batch_op.drop_column("request_key")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_column("order_verified")
    op.drop_table("lookup_guards")
