"""article listing index: (published_at DESC NULLS LAST, id DESC)

Revision ID: 0006
Revises: 0004

The order of every article listing (newest first, undated last, ties by id), so the first
page and each keyset page read a few index entries instead of sorting every stored article.
SQLite sorts NULL first ascending, so its plain DESC is already NULLS LAST (and it refuses
the clause in an index). Dialect-specific, so not in the SQLModel metadata: the models test
skips it by name (LISTING_INDEX).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LISTING_INDEX = "ix_article_published_at_id"


def upgrade() -> None:
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.create_index(
        LISTING_INDEX, "article", [sa.text(f"published_at DESC{nulls}"), sa.text("id DESC")]
    )


def downgrade() -> None:
    op.drop_index(LISTING_INDEX, table_name="article")
