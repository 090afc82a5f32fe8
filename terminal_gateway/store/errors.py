"""``StoreError``, the one exception the rest of the gateway catches from the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError


class StoreError(Exception):
    """The store could not do what was asked; the message is one line for an operator or a log."""


@contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Turn a driver error into a ``StoreError`` saying what failed while ``doing`` what.

    Only the first line of the driver's message is kept: PostgreSQL's DETAIL line quotes the
    offending values, and those can be card numbers (SQL parameters are hidden by the engine).
    """
    try:
        yield
    except SQLAlchemyError as e:
        cause = getattr(e, "orig", None) or e
        lines = str(cause).strip().splitlines()
        raise StoreError(f"{doing}: {lines[0] if lines else type(cause).__name__}") from e
