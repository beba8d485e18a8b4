"""adaptive polling, feed health and cross-feed dedup

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS = ("simhash_b0", "simhash_b1", "simhash_b2", "simhash_b3")


def upgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hint_interval", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "deactivated_reason", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True
            )
        )
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("canonical_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("simhash", sa.BigInteger(), nullable=True))
        for band in BANDS:
            batch_op.add_column(sa.Column(band, sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_article_canonical_hash"), ["canonical_hash"])
        for band in BANDS:
            batch_op.create_index(batch_op.f(f"ix_article_{band}"), [band])
        batch_op.create_index(batch_op.f("ix_article_duplicate_of"), ["duplicate_of"])
        batch_op.create_foreign_key(
            batch_op.f("fk_article_duplicate_of_article"),
            "article",
            ["duplicate_of"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_article_duplicate_of_article"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_article_duplicate_of"))
        for band in BANDS:
            batch_op.drop_index(batch_op.f(f"ix_article_{band}"))
        batch_op.drop_index(batch_op.f("ix_article_canonical_hash"))
        batch_op.drop_column("duplicate_of")
        for band in reversed(BANDS):
            batch_op.drop_column(band)
        batch_op.drop_column("simhash")
        batch_op.drop_column("canonical_hash")
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_column("deactivated_reason")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("hint_interval")
