"""The tables. Money is integers in minor units (BigInteger: rials are big); times are UTC.

Columns filled from what a terminal sent (the journal's terminal, key, invoice, ...) have no
length limit, so that no request, however odd, can make a group commit fail.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    text,
)

from ..vocabulary import BatchTotals

TOTALS = tuple(f.name for f in fields(BatchTotals))
ID = String(32)  # uuid4 hex
AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite has no time zones: there they are kept naive, in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the store takes aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


terminals = Table(
    "terminals",
    metadata,
    Column("tid", String(8), primary_key=True),
    Column("branch", String(15), nullable=False),
    Column("signed_on", Boolean, nullable=False, server_default=false()),
    Column("batch_seq", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("certificates_from", UTCDateTime, nullable=True),  # client certificates issued before: revoked
    Column("family", String(16), nullable=True),  # the only family it may speak as; NULL: any
)

terminal_keys = Table(
    "terminal_keys",
    metadata,
    Column("tid", String(8), ForeignKey("terminals.tid"), primary_key=True),
    Column("master_key", LargeBinary, nullable=False),  # RFC 3394-wrapped under the KEK
    Column("master_check", String(6), nullable=False),
    Column("session_key", LargeBinary, nullable=True),  # RFC 3394-wrapped under the KEK
    Column("session_check", String(6), nullable=True),
    Column("kek_check", String(6), nullable=False),  # which KEK wraps both keys
    Column("master_loaded_at", UTCDateTime, nullable=False),
    Column("session_changed_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
# Keys are never stored in the clear: each is wrapped under the key-encryption key (KEK),
# which lives outside the database. Check values identify keys without revealing them.

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("group", String(64), nullable=False),
    Column("phone", String(20), nullable=True, index=True),
    Column("blocked", Boolean, nullable=False, server_default=false()),
    Column("referrer_id", ID, ForeignKey("accounts.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("kind", String(8), nullable=False, server_default="member"),  # member or gift
    Column("points", BigInteger, nullable=False, server_default=text("0")),
    Column("gift_state", String(8), nullable=True),  # gift cards: inactive, active
)

cards = Table(
    "cards",
    metadata,
    Column("pan", String(19), primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("status", String(8), nullable=False, server_default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'lost', 'blocked')", name="status"),
)

lots = Table(
    "lots",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True, index=True),
    Column("source", String(16), nullable=False),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", AUTO_ID, primary_key=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("kind", String, nullable=False),
    Column("terminal", String, nullable=False),
    Column("branch", String, nullable=True),
    Column("key", String, nullable=True),
    Column("repeat", Boolean, nullable=False),
    Column("card", String, nullable=False),
    Column("account_id", ID, nullable=True),  # no index: no query reads it, and a random key costs a page a record
    Column("requested", BigInteger, nullable=True),
    Column("approved", BigInteger, nullable=False),
    Column("code", String, nullable=False),
    Column("binding_limit", String, nullable=True),
    Column("rrn", String, nullable=True, index=True),
    Column("auth_code", String, nullable=True),
    Column("invoice", String, nullable=True),
    Column("day", String, nullable=True),
    Column("ref", String, nullable=True),
    Column("message", Text, nullable=False),
    Column("effects", Text, nullable=True),
    Column("format_version", SmallInteger, nullable=False, server_default=text("1")),
)
# ``key`` has no index, let alone a unique one: duplicate detection is the ledger's, within its
# replay window (DE7 has no year and terminals reset their STAN, so an old key may lawfully
# come back), and every index is written on every group commit.
# ``format_version`` is the format of ``journal.py`` the row's ``effects`` were written in, so
# that the loader reads only what it understands. Its default, 1, is the format from before
# versions (revision 0004 added them): the loader refuses a row inserted without its version.

postings = Table(
    "postings",
    metadata,
    Column("id", AUTO_ID, primary_key=True),
    Column("transaction_id", BigInteger, ForeignKey("transactions.id"), nullable=False, index=True),
    Column("lot_id", ID, ForeignKey("lots.id"), nullable=False, index=True),
    Column("account_id", ID, nullable=False),
    Column("delta", BigInteger, nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("terminal", String, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("batch_number", String, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("transaction_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    *(Column(f"gateway_{name}", BigInteger, nullable=False) for name in TOTALS),
    *(Column(f"reported_{name}", BigInteger, nullable=False) for name in TOTALS),
    Column("code", String, nullable=False),
)

accruals = Table(
    "accruals",
    metadata,
    Column("id", ID, primary_key=True),
    Column("transaction_id", BigInteger, ForeignKey("transactions.id"), nullable=False),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),  # no index: read whole on start
    Column("branch", String, nullable=False),
    Column("invoice", String, nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("paid", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("credit", Text, nullable=False),  # JSON [[account_id, lot_id, amount], ...]
    Column("returned", BigInteger, nullable=False, server_default=text("0")),
    Column("reversed", Boolean, nullable=False, server_default=false()),
)
# One accrual per branch and invoice is the ledger's rule (a reversed one frees its invoice),
# so (branch, invoice) is not unique here.

conversions = Table(
    "conversions",
    metadata,
    Column("lot_id", ID, ForeignKey("lots.id"), primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("serial", String(20), primary_key=True),
    Column("batch", String(32), nullable=False, index=True),
    Column("pin_hash", String(64), nullable=False, unique=True),  # HMAC-SHA256 hex; the PIN is never stored
    Column("value", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("state", String(10), nullable=False, server_default="generated"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("state IN ('generated', 'active', 'redeemed', 'void')", name="state"),
)

uid_tags = Table(
    "uid_tags",
    metadata,
    Column("uid", String(20), primary_key=True),  # hex, upper case: 4, 7 or 10 bytes (ISO 14443-3)
    Column("pan", String(19), ForeignKey("cards.pan"), nullable=False),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)
# A UID tag (an NFC sticker or fob without the club applet) is an alias of the member's card
# it was issued to; counter stations read its UID and decide as for that card.

changes = Table(
    "changes",
    metadata,
    Column("id", AUTO_ID, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String(32), nullable=False),
)

station_tokens = Table(
    "station_tokens",
    metadata,
    Column("terminal", String(8), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 hex of the bearer token
    Column("created_at", UTCDateTime, nullable=False),
)
# A counter station's credential for the counter API; the token itself is shown once and never stored.

audit = Table(
    "audit",
    metadata,
    Column("id", AUTO_ID, primary_key=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("os_user", Text, nullable=False),
    Column("command", Text, nullable=False),
    Column("target", Text, nullable=False),  # card numbers masked
    Column("outcome", Text, nullable=False),
)
# Who changed value or keys from the command line: one row per change, written in its transaction.
