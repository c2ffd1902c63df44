"""Conversation log: a buyer message's claim (pending, answered, failed) and the replies' link to it.

The claim is what lets several web workers share one conversation log: the
first copy of a ``client_msg_id`` to be stored is the one sent to Rasa; a copy
arriving while it is pending waits for its replies instead of asking twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reply_to_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages", schema=None) as batch_op:
        batch_op.drop_column("reply_to_id")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("state")
