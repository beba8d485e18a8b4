"""one label vocabulary across languages: mention.model_label; PER -> PERSON, GPE/FAC -> LOC

Revision ID: 0005
Revises: 0004

Entities are stored under the common label (workers/labels.py) and each mention keeps the
label its model gave. Existing rows: every mention gets its entity's label as its model
label, then entities labelled PER, GPE or FAC take the common label; where that entity
already exists (an English "Berlin" GPE next to a "Berlin" LOC) the two are merged: mentions
move over (counts added when one article mentioned both), first/last seen widened.
Downgrade drops the column; merged entities stay merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RELABEL = {"PER": "PERSON", "GPE": "LOC", "FAC": "LOC"}

entity = sa.table(
    "entity",
    sa.column("id", sa.Integer),
    sa.column("label", sa.String),
    sa.column("key", sa.String),
    sa.column("first_seen", sa.DateTime(timezone=True)),
    sa.column("last_seen", sa.DateTime(timezone=True)),
)
mention = sa.table(
    "mention",
    sa.column("id", sa.Integer),
    sa.column("article_id", sa.Integer),
    sa.column("entity_id", sa.Integer),
    sa.column("count", sa.Integer),
    sa.column("first_offset", sa.Integer),
    sa.column("model_label", sa.String),
)


def _merge(conn: sa.Connection, source: int, target: int) -> None:
    """Move ``source``'s mentions to ``target`` and delete ``source``."""
    theirs = {
        row.article_id: row
        for row in conn.execute(
            sa.select(mention.c.id, mention.c.article_id, mention.c.count, mention.c.first_offset)
            .where(mention.c.entity_id == target)
        )
    }  # fmt: skip
    moved = conn.execute(
        sa.select(mention.c.id, mention.c.article_id, mention.c.count, mention.c.first_offset)
        .where(mention.c.entity_id == source)
    ).all()  # fmt: skip
    for row in moved:
        other = theirs.get(row.article_id)
        if other is None:
            conn.execute(mention.update().where(mention.c.id == row.id).values(entity_id=target))
            continue
        conn.execute(
            mention.update()
            .where(mention.c.id == other.id)
            .values(count=other.count + row.count,
                    first_offset=min(other.first_offset, row.first_offset))
        )  # fmt: skip
        conn.execute(mention.delete().where(mention.c.id == row.id))
    seen = conn.execute(
        sa.select(sa.func.min(entity.c.first_seen), sa.func.max(entity.c.last_seen))
        .where(entity.c.id.in_([source, target]))
    ).one()  # fmt: skip
    conn.execute(entity.delete().where(entity.c.id == source))
    conn.execute(
        entity.update().where(entity.c.id == target).values(first_seen=seen[0], last_seen=seen[1])
    )


def upgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_label", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    conn.execute(
        mention.update().values(
            model_label=sa.select(entity.c.label)
            .where(entity.c.id == mention.c.entity_id)
            .scalar_subquery()
        )
    )
    rows = conn.execute(
        sa.select(entity.c.id, entity.c.label, entity.c.key)
        .where(entity.c.label.in_(list(RELABEL)))
        .order_by(entity.c.id)
    ).all()  # fmt: skip
    for row in rows:
        label = RELABEL[row.label]
        target = conn.execute(
            sa.select(entity.c.id).where(entity.c.label == label, entity.c.key == row.key)
        ).scalar()
        if target is None:
            conn.execute(entity.update().where(entity.c.id == row.id).values(label=label))
        else:
            _merge(conn, row.id, target)


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_column("model_label")
