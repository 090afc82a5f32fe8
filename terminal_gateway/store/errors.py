"""``StoreError``, the one exception the rest of the gateway catches from the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError


class StoreError(Exception):
    """The store could not do what was asked; the message is one line for an operator or a log."""


class CommitTooLate(StoreError):
    """A batch was rolled back, not committed: its oldest decision waited too long."""


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


def refused_rows(error: Exception) -> bool:
    """Whether a failed write was refused for the rows it wrote (a value the database does
    not take, such as a NUL byte in a text; a constraint; the voucher guard) rather than for
    the database (unreachable, a lost connection, a lock or statement timeout): only the
    former is worth writing again without the decision whose rows they were."""
    cause = error.__cause__
    if isinstance(error, CommitTooLate) or isinstance(cause, OperationalError | InterfaceError):
        return False
    if isinstance(cause, DBAPIError) and cause.connection_invalidated:
        return False
    return isinstance(error, StoreError)
