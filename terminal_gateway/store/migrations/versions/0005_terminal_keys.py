"""Terminal keys for Club-8583 MAC profiles: each terminal's master key and current session
key, both wrapped (RFC 3394) under the key-encryption key, which is not in the database.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terminal_keys",
        sa.Column("tid", sa.String(8), nullable=False),
        sa.Column("master_key", sa.LargeBinary(), nullable=False),
        sa.Column("master_check", sa.String(6), nullable=False),
        sa.Column("session_key", sa.LargeBinary(), nullable=True),
        sa.Column("session_check", sa.String(6), nullable=True),
        sa.Column("kek_check", sa.String(6), nullable=False),
        sa.Column("master_loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tid"], ["terminals.tid"], name="fk_terminal_keys_tid_terminals"),
        sa.PrimaryKeyConstraint("tid", name="pk_terminal_keys"),
    )


def downgrade() -> None:
    op.drop_table("terminal_keys")
