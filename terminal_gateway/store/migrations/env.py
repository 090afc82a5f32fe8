"""Alembic runs this for every command. The gateway hands it an open connection inside a
transaction (``migrate.py``), so an upgrade is all or nothing on both databases."""

from alembic import context

from terminal_gateway.store.schema import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: autogenerate copies the table
)
with context.begin_transaction():
    context.run_migrations()
