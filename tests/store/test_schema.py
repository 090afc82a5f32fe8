"""Creating and upgrading the schema, and refusing to run on one that is not at head."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from terminal_gateway.store import Store, StoreError
from terminal_gateway.store.engine import make_engine
from terminal_gateway.store.schema import metadata


def _shape(url: str) -> dict[str, object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        inspector = inspect(conn)
        shape = {table: ([c["name"] for c in inspector.get_columns(table)],
                         sorted(i["name"] for i in inspector.get_indexes(table)))
                 for table in inspector.get_table_names()}
        shape["revision"] = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return shape


def test_an_empty_database_is_refused(store_url: str) -> None:
    store = Store(store_url)
    with pytest.raises(StoreError, match=r"^the database schema is not initialised: run 'terminal-gateway init'$"):
        store.check_schema()
    store.close()


def test_init_twice_changes_nothing(store: Store, store_url: str) -> None:
    store.add_terminal("T0000001", "CLINIC000000001")
    before = _shape(store_url)
    store.init_schema()
    store.check_schema()
    assert _shape(store_url) == before
    assert before["revision"] == "0008"
    assert store.changes_since(0)[0] == 1  # the data is still there


def test_the_migrations_build_what_schema_py_describes(store: Store, store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_a_schema_at_another_revision_is_refused(store: Store, store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    engine.dispose()
    with pytest.raises(StoreError, match=r"is at revision 0000, not 0008: run 'terminal-gateway init' to upgrade"):
        store.check_schema()


def test_sqlite_is_durable_and_shares_the_file_politely(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'gateway.db'}")
    with engine.connect() as conn:
        pragmas = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")}
    engine.dispose()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 10000, "foreign_keys": 1}


def test_postgresql_urls_mean_psycopg_3() -> None:
    assert make_engine("postgresql://gateway@db.example/club").dialect.driver == "psycopg"
    assert make_engine("postgres://gateway@db.example/club").dialect.driver == "psycopg"


def test_an_unusable_url_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="the store URL is not usable") as raised:
        Store("nosuchdb+driver://admin:s3cret@host/db")
    assert "s3cret" not in str(raised.value)


def test_a_new_sqlite_database_and_its_wal_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = Store(f"sqlite:///{path}")
    store.init_schema()
    store.add_terminal("T0000001", "CLINIC000000001")
    files = [path, path.with_name("gateway.db-wal")]
    modes = {file.name: file.stat().st_mode & 0o777 for file in files}
    store.close()
    assert modes == {"gateway.db": 0o600, "gateway.db-wal": 0o600}
