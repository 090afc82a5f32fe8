"""The initial schema, written out by hand: a migration must not change when schema.py does.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
TOTALS = ("credits", "credits_reversal", "debits", "debits_reversal",
          "credits_amount", "credits_reversal_amount", "debits_amount", "debits_reversal_amount")


def upgrade() -> None:
    op.create_table(
        "terminals",
        sa.Column("tid", sa.String(8), nullable=False),
        sa.Column("branch", sa.String(15), nullable=False),
        sa.Column("signed_on", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("batch_seq", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("tid", name="pk_terminals"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", ID, nullable=False),
        sa.Column("group", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("referrer_id", ID, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["referrer_id"], ["accounts.id"], name="fk_accounts_referrer_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
    )
    op.create_index("ix_accounts_phone", "accounts", ["phone"])
    op.create_table(
        "cards",
        sa.Column("pan", sa.String(19), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("status", sa.String(8), server_default="active", nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("status IN ('active', 'lost', 'blocked')", name="ck_cards_status"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_cards_account_id_accounts"),
        sa.PrimaryKeyConstraint("pan", name="pk_cards"),
    )
    op.create_index("ix_cards_account_id", "cards", ["account_id"])
    op.create_table(
        "lots",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_lots_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_lots"),
    )
    op.create_index("ix_lots_account_id", "lots", ["account_id"])
    op.create_table(
        "transactions",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("terminal", sa.String(), nullable=False),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("key", sa.String(), nullable=True),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("card", sa.String(), nullable=False),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("requested", sa.BigInteger(), nullable=True),
        sa.Column("approved", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("binding_limit", sa.String(), nullable=True),
        sa.Column("rrn", sa.String(), nullable=True),
        sa.Column("auth_code", sa.String(), nullable=True),
        sa.Column("invoice", sa.String(), nullable=True),
        sa.Column("day", sa.String(), nullable=True),
        sa.Column("ref", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("effects", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
    )
    op.create_index("ix_transactions_at", "transactions", ["at"])
    op.create_index("ix_transactions_rrn", "transactions", ["rrn"])
    op.create_table(
        "postings",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"],
                                name="fk_postings_transaction_id_transactions"),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name="fk_postings_lot_id_lots"),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
    )
    op.create_index("ix_postings_lot_id", "postings", ["lot_id"])
    op.create_table(
        "batches",
        sa.Column("terminal", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("batch_number", sa.String(), nullable=False),
        sa.Column("closed_at", TIME, nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        *(sa.Column(f"gateway_{name}", sa.BigInteger(), nullable=False) for name in TOTALS),
        *(sa.Column(f"reported_{name}", sa.BigInteger(), nullable=False) for name in TOTALS),
        sa.Column("code", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"],
                                name="fk_batches_transaction_id_transactions"),
        sa.PrimaryKeyConstraint("terminal", "seq", name="pk_batches"),
    )
    op.create_table(
        "changes",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
    )


def downgrade() -> None:
    for table in ("changes", "batches", "postings", "transactions", "lots", "cards", "accounts", "terminals"):
        op.drop_table(table)
