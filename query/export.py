"""Export: every matching article with its metadata and entities, streamed.

Articles are read in id order through a server-side cursor on PostgreSQL and a stepped
cursor on SQLite (``stream_results``, ``yield_per``), and the entities of each chunk of
:data:`CHUNK` articles come in one query, so memory holds one chunk whatever the size.

Formats (the same record, see :data:`FIELDS`):

- ``jsonl``: one JSON object per line; ``authors`` a list of strings, times ISO 8601 UTC
  (``null`` when unknown), ``entities`` a list of ``{"label", "name", "key", "count"}``
  objects, most mentioned first.
- ``csv``: one row per article, header first, RFC 4180 quoting. Flattening: ``authors`` and
  ``entities`` are JSON text in their cell (the same list as in jsonl), so a CSV reader gets
  them back exactly with ``json.loads``; an unknown time or value is an empty cell.
- ``parquet`` (needs pyarrow: ``pip install 'newsingest[parquet]'``): schema
  :func:`parquet_schema`: ``id`` int64, times ``timestamp[us, UTC]``, ``word_count`` and
  ``feed_id`` int64, the other scalars string, ``authors`` ``list<string>``, ``entities``
  ``list<struct<label: string, name: string, key: string, count: int64>>``; one row group
  per chunk.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from query.article import entity_rows
from query.articles import conditions
from query.errors import InvalidQuery
from query.filters import Filters, Sort
from query.fulltext import Search
from query.guard import deadline
from query.search import parse
from query.tables import ARTICLE
from schemas.models import as_utc

CHUNK = 1000
FORMATS = ("jsonl", "csv", "parquet")
FIELDS = (
    "id", "url", "canonical_url", "title", "authors", "published_at", "published_source",
    "language", "site_name", "feed_id", "status", "fetched_at", "processed_at", "word_count",
    "nlp_model", "nlp_model_version", "duplicate_of", "text", "entities",
)  # fmt: skip
_TIMES = ("published_at", "fetched_at", "processed_at")
_COLUMNS = [f for f in FIELDS if f != "entities"]

Record = dict[str, Any]


def _chunks(
    conn: Connection, filters: Filters, renew: Callable[[], None]
) -> Iterator[list[Record]]:
    stmt = sa.select(*(ARTICLE.c[name] for name in _COLUMNS)).where(
        *conditions(filters, Sort.PUBLISHED)
    )
    if filters.search is not None:
        stmt = Search(conn, parse(filters.search), filters.language).apply(stmt)
    stmt = stmt.order_by(ARTICLE.c.id).execution_options(stream_results=True, yield_per=CHUNK)
    result = conn.execute(stmt)
    for part in result.partitions():
        renew()
        records = []
        for row in part:
            record = dict(row._mapping)
            for name in _TIMES:
                record[name] = as_utc(record[name])
            records.append(record)
        by_id: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            record["entities"] = by_id[record["id"]] = []
        for article_id, label, name, key, count in entity_rows(conn, list(by_id)):
            by_id[article_id].append({"label": label, "name": name, "key": key, "count": count})
        yield records


def iter_records(
    conn: Connection, filters: Filters, *, timeout: float | None = None
) -> Iterator[list[Record]]:
    """Chunks of export records in id order (call inside a transaction)."""
    with deadline(conn, timeout) as renew:
        yield from _chunks(conn, filters, renew)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps_std(record: Record) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_json_default)


try:  # the ``fast-export`` extra: orjson encodes a record several times faster
    import orjson
except ImportError:  # pragma: no cover - depends on the installed extras
    _dumps = _dumps_std
else:

    def _dumps(record: Record) -> str:
        # The same text as _dumps_std: compact, UTF-8 as is, datetimes as isoformat().
        return orjson.dumps(record).decode()


def json_line(record: Record) -> str:
    """One JSON line: UTF-8 as is, but U+2028/U+2029 escaped, since line-splitting readers
    (Python's splitlines, JavaScript before ES2019) take them for line ends."""
    text = _dumps(record)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def write_jsonl(
    chunks: Iterator[list[Record]], out: IO[str], progress: Callable[[int], None]
) -> int:
    total = 0
    for chunk in chunks:
        out.write("".join(json_line(r) for r in chunk))
        total += len(chunk)
        progress(len(chunk))
    return total


def _csv_cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name in ("authors", "entities"):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_csv(chunks: Iterator[list[Record]], out: IO[str], progress: Callable[[int], None]) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    total = 0
    for chunk in chunks:
        writer.writerows([[_csv_cell(n, r[n]) for n in FIELDS] for r in chunk])
        total += len(chunk)
        progress(len(chunk))
    return total


def read_csv(source: IO[str]) -> Iterator[Record]:
    """The records of :func:`write_csv` back (values as text, lists decoded)."""
    for row in csv.DictReader(source):
        record: Record = {k: (v if v != "" else None) for k, v in row.items()}
        for name in ("authors", "entities"):
            record[name] = json.loads(record[name]) if record[name] else []
        yield record


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InvalidQuery(
            "--format parquet needs pyarrow: pip install 'newsingest[parquet]'"
        ) from None
    return pyarrow


def parquet_schema() -> Any:
    pa = _pyarrow()
    ts = pa.timestamp("us", tz="UTC")
    types = {"id": pa.int64(), "feed_id": pa.int64(), "word_count": pa.int64(),
             "duplicate_of": pa.int64(), "authors": pa.list_(pa.string())}  # fmt: skip
    entity = pa.struct(
        [("label", pa.string()), ("name", pa.string()), ("key", pa.string()), ("count", pa.int64())]
    )
    fields = []
    for name in FIELDS:
        if name == "entities":
            kind = pa.list_(entity)
        elif name in _TIMES:
            kind = ts
        else:
            kind = types.get(name, pa.string())
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def write_parquet(
    chunks: Iterator[list[Record]], out: IO[bytes], progress: Callable[[int], None]
) -> int:
    pa = _pyarrow()
    schema = parquet_schema()
    total = 0
    with pa.parquet.ParquetWriter(out, schema, compression="zstd") as writer:
        for chunk in chunks:
            columns = {name: [r[name] for r in chunk] for name in FIELDS}
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            total += len(chunk)
            progress(len(chunk))
    return total


def count_matching(conn: Connection, filters: Filters) -> int:
    """How many articles an export will write (for a progress bar)."""
    stmt = (
        sa.select(sa.func.count()).select_from(ARTICLE).where(*conditions(filters, Sort.PUBLISHED))
    )
    if filters.search is not None:
        stmt = Search(conn, parse(filters.search), filters.language).apply(stmt)
    return int(conn.execute(stmt).scalar_one())
