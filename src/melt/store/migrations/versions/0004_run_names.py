"""Saved names for runs and experiments (`melt runs name NAME REF`), so `melt compare` and
`melt report` accept ``baseline`` where they accept ``12`` or ``exp:3``.

Revision ID: 4
Revises: 3
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4"
down_revision: str | None = "3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_names",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.execute("UPDATE melt_meta SET value = '4' WHERE key = 'schema'")


def downgrade() -> None:
    op.drop_table("run_names")
    op.execute("UPDATE melt_meta SET value = '3' WHERE key = 'schema'")
