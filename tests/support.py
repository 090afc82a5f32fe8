"""Helpers any test may import: a ``Config`` for tests, and a throwaway PostgreSQL database.

PostgreSQL is the one on 127.0.0.1:5432 (user postgres, trust auth), or the maintenance
database named by ``TG_POSTGRES_URL``. A test that needs it and cannot reach it fails,
unless ``TG_SKIP_POSTGRES=1``, where it is skipped: a silent skip would hide that half the
store was never tested.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from terminal_gateway import families
from terminal_gateway.config import Config, StoreSettings
from terminal_gateway.program import Branch, Group, Program

BRANCH = "CLINIC000000001"
POSTGRES_URL = os.environ.get("TG_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FIRMWARE_PROFILES = Path(__file__).resolve().parents[1] / "firmware_profiles"


def hide_driver_library(monkeypatch: pytest.MonkeyPatch, family: str) -> None:
    """Make ``family``'s driver look as if the library of its extra were not installed."""
    without = tuple(dataclasses.replace(row, library="no_such_module_for_a_test") if row.name == family else row
                    for row in families.FAMILIES)
    monkeypatch.setattr(families, "FAMILIES", without)


def make_config(**overrides: Any) -> Config:
    """One Tehran branch (day starts 04:00), a capped default group ``silver`` and an uncapped
    ``gold``; any ``Config`` field may be overridden."""
    config = Config(
        path="test.toml",
        store=StoreSettings(url="sqlite://"),
        program=Program(currency=364, hold_minutes=15),
        branches={BRANCH: Branch(BRANCH, ZoneInfo("Asia/Tehran"), 4)},
        listeners=(),
        groups={
            "silver": Group("silver", default=True, daily_cap=200_000, invoice_cap=100_000,
                            max_redemptions_per_day=5),
            "gold": Group("gold"),
        },
        profiles_dirs=(FIRMWARE_PROFILES,),
    )
    return dataclasses.replace(config, **overrides)


@contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database with a random name, dropped afterwards; its URL."""
    admin = make_url(POSTGRES_URL)
    name = f"tg_test_{uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as e:
        engine.dispose()
        reason = f"PostgreSQL at {admin.render_as_string()} cannot be reached: {str(e.orig).strip().splitlines()[0]}"
        if os.environ.get("TG_SKIP_POSTGRES") == "1":
            pytest.skip(f"{reason} (TG_SKIP_POSTGRES=1)")
        pytest.fail(f"{reason}; start it, or set TG_SKIP_POSTGRES=1 to skip the PostgreSQL tests", pytrace=False)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
