"""Alembic environment: melt runs migrations itself (melt.store.migrate) on a connection it
has opened and locked, passed in ``config.attributes["connection"]``."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
