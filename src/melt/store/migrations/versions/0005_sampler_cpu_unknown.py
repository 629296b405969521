"""A sampler's own CPU time may be unknown (NULL): the on-phone sh sampler's when the phone
will not show its /proc/<pid>/stat, and any sampler lost before it reported. Before, such a
run stored 0.0 as if measured.

Revision ID: 5
Revises: 4
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5"
down_revision: str | None = "4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sampling") as sampling:
        sampling.alter_column("cpu_s", existing_type=sa.Float(), nullable=True)
    op.execute("UPDATE melt_meta SET value = '5' WHERE key = 'schema'")


def downgrade() -> None:
    """Schema 4 cannot hold an unknown CPU time: it becomes 0.0 there, and the record's
    `read_errors.cpu_source` still says it was not measured."""
    op.execute("UPDATE sampling SET cpu_s = 0.0 WHERE cpu_s IS NULL")
    with op.batch_alter_table("sampling") as sampling:
        sampling.alter_column("cpu_s", existing_type=sa.Float(), nullable=False)
    op.execute("UPDATE melt_meta SET value = '4' WHERE key = 'schema'")
