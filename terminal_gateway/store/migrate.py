"""Schema migrations run from code: the package carries its alembic scripts, no alembic.ini.

A new revision: ``alembic.command.revision(alembic_config(None), "message", autogenerate=True)``
with a connection to a database at head in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from .engine import writing
from .errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to head in one transaction; at head already, nothing happens."""
    with writing(engine) as connection:
        command.upgrade(alembic_config(connection), "head")


def check(engine: Engine) -> None:
    """Raise ``StoreError`` unless the schema is at head: the daemon must not run on another."""
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        raise StoreError("the database schema is not initialised: run 'terminal-gateway init'")
    if current != head:
        raise StoreError(f"the database schema is at revision {current}, not {head}: "
                         "run 'terminal-gateway init' to upgrade")
