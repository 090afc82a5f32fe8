"""The journal's effects named by a stable kind instead of their Python class, and every
journal row marked with the format version its effects are written in.

Format 1 wrote an effect as ``{"type": <class name>, **fields}``; format 2 writes it as
``[<kind>, fields]`` (``store/journal.py``). The class names of format 1 and the kinds they
became are written out here, not taken from the code: a migration must not change when the
code does. A row that does not convert (an effect of a type not listed, text not in the
format) fails the migration, naming the row; nothing is guessed, and the database stays at
revision 0003. Rows without effects are marked format 2 all the same.

Revision ID: 0004
Revises: 0003
"""

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from terminal_gateway.store.errors import StoreError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KINDS = {  # format 1's type (the effect's class name up to revision 0003) -> format 2's kind
    "Recorded": "recorded",
    "Changed": "changed",
    "DailyUsage": "daily_usage",
    "InvoiceUsage": "invoice_usage",
    "Tombstone": "tombstone",
    "BatchItem": "batch_item",
    "BatchClosed": "batch_closed",
    "PinFailure": "pin_failure",
}
TYPES = {kind: name for name, kind in KINDS.items()}
PAGE = 1000  # rows read and rewritten at a time

transactions = sa.table("transactions", sa.column("id", sa.BigInteger()), sa.column("effects", sa.Text()),
                        sa.column("format_version", sa.SmallInteger()))

Convert = Callable[[list[Any]], list[Any]]


def upgrade() -> None:
    op.add_column("transactions", sa.Column("format_version", sa.SmallInteger(), server_default=sa.text("1"),
                                            nullable=False))
    _rewrite(1, 2, _format_2)
    op.execute(transactions.update().where(transactions.c.format_version == 1).values(format_version=2))


def downgrade() -> None:
    _rewrite(2, 1, _format_1)
    op.drop_column("transactions", "format_version")


def _format_2(effects: list[Any]) -> list[Any]:
    return [[_renamed(item["type"], KINDS), {name: value for name, value in item.items() if name != "type"}]
            for item in effects]


def _format_1(effects: list[Any]) -> list[Any]:
    return [{"type": _renamed(kind, TYPES), **fields} for kind, fields in effects]


def _renamed(name: str, names: dict[str, str]) -> str:
    if name not in names:
        raise ValueError(f"an effect named {name!r}, which revision 0004 does not know")
    return names[name]


def _rewrite(old: int, new: int, convert: Convert) -> None:
    """The effects of every row in format ``old`` in format ``new``, a page of rows at a time."""
    conn = op.get_bind()
    pending = (sa.select(transactions.c.id, transactions.c.effects)
               .where(transactions.c.format_version == old, transactions.c.effects.is_not(None))
               .order_by(transactions.c.id).limit(PAGE))
    rewrite = (transactions.update().where(transactions.c.id == sa.bindparam("row_id"))
               .values(effects=sa.bindparam("converted"), format_version=new))
    last = 0
    while rows := conn.execute(pending.where(transactions.c.id > last)).all():
        conn.execute(rewrite, [{"row_id": row_id, "converted": _converted(row_id, text, convert, new)}
                               for row_id, text in rows])
        last = rows[-1][0]


def _converted(row_id: int, text: str, convert: Convert, new: int) -> str:
    try:
        return json.dumps(convert(json.loads(text)), separators=(",", ":"))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise StoreError(f"cannot convert journal row {row_id} to format {new}: {type(e).__name__}: {e}") from e
