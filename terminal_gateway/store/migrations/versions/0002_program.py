"""The club program: accounts gain kind, points and gift state; accruals, point conversions
and vouchers get tables of their own; the reports' reads of postings and lots get indexes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(32)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), server_default="member", nullable=False))
        batch.add_column(sa.Column("points", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("gift_state", sa.String(8), nullable=True))
    op.create_table(
        "accruals",
        sa.Column("id", ID, nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("branch", sa.String(), nullable=False),
        sa.Column("invoice", sa.String(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.Text(), nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("reversed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"],
                                name="fk_accruals_transaction_id_transactions"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_accruals_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_accruals"),
    )
    op.create_index("ix_accruals_at", "accruals", ["at"])
    # The reports read a day's postings by their transaction and expired lots by expiry.
    op.create_index("ix_postings_transaction_id", "postings", ["transaction_id"])
    op.create_index("ix_lots_expires_at", "lots", ["expires_at"])
    op.create_table(
        "conversions",
        sa.Column("lot_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name="fk_conversions_lot_id_lots"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_conversions_account_id_accounts"),
        sa.PrimaryKeyConstraint("lot_id", name="pk_conversions"),
    )
    op.create_table(
        "vouchers",
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("pin_hash", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("state", sa.String(10), server_default="generated", nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("state IN ('generated', 'active', 'redeemed', 'void')", name="ck_vouchers_state"),
        sa.PrimaryKeyConstraint("serial", name="pk_vouchers"),
        sa.UniqueConstraint("pin_hash", name="uq_vouchers_pin_hash"),
    )
    op.create_index("ix_vouchers_batch", "vouchers", ["batch"])


def downgrade() -> None:
    op.drop_index("ix_lots_expires_at", "lots")
    op.drop_index("ix_postings_transaction_id", "postings")
    op.drop_table("vouchers")
    op.drop_table("conversions")
    op.drop_table("accruals")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("gift_state")
        batch.drop_column("points")
        batch.drop_column("kind")
