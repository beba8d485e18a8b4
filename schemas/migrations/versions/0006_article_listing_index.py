"""article listing index on PostgreSQL: (COALESCE(published_at, '-infinity') DESC, id DESC)

Revision ID: 0006
Revises: 0004

The order of every article listing by published time (newest first, undated last, ties by
id) as query/articles.listing_key writes it, so the first page and each keyset page read a
few index entries instead of sorting, or filtering, every stored article. The expression
must stay identical to listing_key's for the planner to use the index. PostgreSQL only:
SQLite keeps its plan on the published_at index. An expression index, so not in the
SQLModel metadata: the models test skips it by name (LISTING_INDEX).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LISTING_INDEX = "ix_article_published_at_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps sorting by the column (see listing_key)
    op.create_index(
        LISTING_INDEX,
        "article",
        [sa.text("coalesce(published_at, '-infinity'::timestamptz) DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(LISTING_INDEX, table_name="article")
