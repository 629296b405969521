"""Runs name the process writing them (pid, host, heartbeat_at) so a run no process will
finish can be shown as abandoned; a turn's prompt token counts may be unknown (NULL), as
for a server framework that does not report them.

Revision ID: 3
Revises: 2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3"
down_revision: str | None = "2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROMPT_COUNTS = ("prompt_tokens", "prompt_tokens_evaluated", "prompt_tokens_reused")


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("pid", sa.Integer))
        runs.add_column(sa.Column("host", sa.String(200)))
        runs.add_column(sa.Column("heartbeat_at", sa.String(40)))
    with op.batch_alter_table("turns") as turns:
        for name in PROMPT_COUNTS:
            turns.alter_column(name, existing_type=sa.Integer(), nullable=True)
    op.execute("UPDATE melt_meta SET value = '3' WHERE key = 'schema'")


def downgrade() -> None:
    with op.batch_alter_table("turns") as turns:
        for name in PROMPT_COUNTS:
            turns.alter_column(name, existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("heartbeat_at")
        runs.drop_column("host")
        runs.drop_column("pid")
    op.execute("UPDATE melt_meta SET value = '2' WHERE key = 'schema'")
