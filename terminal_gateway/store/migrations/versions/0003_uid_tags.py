"""UID tags: NFC stickers and fobs issued to members as an alias of their card.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uid_tags",
        sa.Column("uid", sa.String(20), nullable=False),
        sa.Column("pan", sa.String(19), nullable=False),
        sa.Column("account_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pan"], ["cards.pan"], name="fk_uid_tags_pan_cards"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_uid_tags_account_id_accounts"),
        sa.PrimaryKeyConstraint("uid", name="pk_uid_tags"),
    )
    op.create_index("ix_uid_tags_account_id", "uid_tags", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_uid_tags_account_id", "uid_tags")
    op.drop_table("uid_tags")
