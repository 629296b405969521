"""Baseline: schema version 2, the last schema before melt used Alembic.

Stores of version 2 have no ``alembic_version`` table; upgrading one runs this no-op
revision first (which records it), then every later revision.

Revision ID: 2
Revises:
"""

from collections.abc import Sequence

revision: str = "2"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
