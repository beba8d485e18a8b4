"""full-text search: PostgreSQL tsvector + GIN, SQLite FTS5 (see schemas/fulltext.py)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

from schemas import fulltext

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _statements(upgrade: bool) -> list[str]:
    if op.get_bind().dialect.name == "postgresql":
        return fulltext.pg_upgrade_statements() if upgrade else fulltext.pg_downgrade_statements()
    if upgrade:
        return fulltext.sqlite_upgrade_statements()
    return fulltext.sqlite_downgrade_statements()


def upgrade() -> None:
    for statement in _statements(True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(False):
        op.execute(statement)
