"""Every store test runs on SQLite (a temporary file) and on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from terminal_gateway.store import Store

from ..support import pg_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One database for the session; each test empties it (faster than one database each)."""
    with pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'gateway.db'}"  # no 'data' folder yet: the store makes it
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    store.init_schema()
    yield store
    store.close()
