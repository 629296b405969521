"""Where a run's model ran (`runs.compute`, from the engine's own report), the llama.cpp
runtime melt built for it (`runs.runtime`), and the rows of llama.cpp's own tools run beside
it on the same device (`tool_rows`, `melt bench --reconcile`).

Revision ID: 6
Revises: 5
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6"
down_revision: str | None = "5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("compute", sa.JSON()))
        runs.add_column(sa.Column("runtime", sa.JSON()))
    op.create_table(
        "tool_rows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("tool", sa.String(40), nullable=False),
        sa.Column("test", sa.String(40), nullable=False),
        sa.Column("n_prompt", sa.Integer),
        sa.Column("n_gen", sa.Integer),
        sa.Column("n_depth", sa.Integer),
        sa.Column("avg_tok_per_s", sa.Float),
        sa.Column("stddev_tok_per_s", sa.Float),
        sa.Column("argv", sa.JSON, nullable=False),
        sa.Column("row", sa.JSON, nullable=False),
    )
    op.execute("UPDATE melt_meta SET value = '6' WHERE key = 'schema'")


def downgrade() -> None:
    op.drop_table("tool_rows")
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("runtime")
        runs.drop_column("compute")
    op.execute("UPDATE melt_meta SET value = '5' WHERE key = 'schema'")
