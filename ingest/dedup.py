"""Cross-feed dedup: canonical-URL duplicates and near-duplicate texts (SimHash).

Three ways one article reaches us more than once:

- the same link through two feeds, or with tracking parameters: :func:`schemas.urls.url_hash`
  of the normalised URL is the article's unique key, so :func:`ingest.articles.claim` inserts
  one row and the second claim is counted as a duplicate before anything is downloaded;
- a different URL whose page names an already stored page as its canonical link (or whose
  redirect ends there): ``canonical_hash`` (the URL hash of the canonical link, or of the final
  URL) equals that article's ``url_hash`` or ``canonical_hash``. The later row becomes
  ``duplicate`` with ``duplicate_of`` set and no text;
- syndicated copies (wire stories on several outlets): a 64-bit SimHash of the text. Copies
  within ``near_duplicate_distance`` bits are stored as articles of their own (another outlet,
  its own URL) but linked by ``duplicate_of`` to the first copy.

The SimHash (Charikar) is taken over 3-word shingles of the case-folded, NFKC-normalised words
(punctuation dropped), each shingle hashed with an 8-byte BLAKE2b, so it is the same in every
process (``hash()`` is salted per process). Bit ``i`` of the result is the majority vote of
bit ``i`` of the shingle hashes. Two texts' SimHashes differ in about ``64 * angle / pi`` bits,
angle being the angle between their shingle sets: a one-word edit of a 400-word text moves a
few bits, a rewritten 25-word lede ~7 bits, unrelated texts ~32 bits.

Index: the 64 bits are split into four 16-bit bands, each stored in its own indexed column.
Two hashes within 3 bits of each other differ in at most 3 bands, so they agree on at least
one (pigeonhole): the candidates are the rows sharing any band value, and the exact Hamming
distance is checked in Python. That is why the setting stops at 3.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schemas.models import Article, ArticleStatus

ARTICLE = Article.__table__  # type: ignore[attr-defined]

SHINGLE = 3
BITS = 64
BAND_BITS = 16
N_BANDS = BITS // BAND_BITS
BAND_COLUMNS = ("simhash_b0", "simhash_b1", "simhash_b2", "simhash_b3")
MASK64 = (1 << BITS) - 1
MAX_DISTANCE = N_BANDS - 1  # the band index finds every pair within this many bits

# Rows whose text is stored: the only ones another copy can be a duplicate of.
STORED = (ArticleStatus.QUEUED, ArticleStatus.PROCESSED, ArticleStatus.SKIPPED)

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The text's words: NFKC, case-folded, punctuation dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingle_hashes(text: str, size: int = SHINGLE) -> bytes:
    """8-byte BLAKE2b digests of the text's ``size``-word shingles, concatenated.

    A text shorter than ``size`` words is one shingle; a text without words has none.
    """
    tokens = words(text)
    if not tokens:
        return b""
    count = max(1, len(tokens) - size + 1)
    blake = hashlib.blake2b
    return b"".join(
        blake(" ".join(tokens[i : i + size]).encode("utf-8"), digest_size=8).digest()
        for i in range(count)
    )


def simhash(text: str) -> int:
    """The 64-bit SimHash (unsigned, ``0 <= h < 2**64``) of ``text``; 0 for no words."""
    digests = shingle_hashes(text)
    total = len(digests) // 8
    if not total:
        return 0
    # One row of 64 bits per shingle (big-endian digest bits); a bit is set in the result
    # when more than half the shingles have it set.
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(total, 8), axis=1)
    votes = bits.sum(axis=0, dtype=np.int64) * 2 > total
    return int.from_bytes(np.packbits(votes).tobytes(), "big")


def to_signed64(h: int) -> int:
    """The unsigned 64-bit ``h`` as a signed value (what a BIGINT column holds)."""
    h &= MASK64
    return h - (1 << BITS) if h >> (BITS - 1) else h


def to_unsigned64(h: int) -> int:
    return h & MASK64


def bands(h: int) -> tuple[int, int, int, int]:
    """The four 16-bit bands of ``h``, most significant first (0..65535 each)."""
    h = to_unsigned64(h)
    b0, b1, b2, b3 = (h >> (BITS - BAND_BITS * (i + 1)) & 0xFFFF for i in range(N_BANDS))
    return b0, b1, b2, b3


def hamming(a: int, b: int) -> int:
    """Bits in which two 64-bit hashes differ (signed or unsigned alike)."""
    return ((a ^ b) & MASK64).bit_count()


def lock_key(kind: str, value: str | int) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock`` naming one dedup resource."""
    digest = hashlib.blake2b(f"newsingest:dedup:{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(url_hash: str, canonical_hash: str | None, h: int | None, *, near: bool) -> list[int]:
    """The advisory lock keys one article takes before its dedup lookups, sorted.

    Any two articles that could be each other's duplicate share a key: the canonical
    lookups match ``url_hash``/``canonical_hash`` against ``canonical_hash``, and two hashes
    within 3 bits share a band. Sorted, so two transactions never wait on each other in a
    cycle.
    """
    keys = {lock_key("url", url_hash)}
    if canonical_hash:
        keys.add(lock_key("url", canonical_hash))
    if near and h is not None:
        keys.update(lock_key(f"band{i}", value) for i, value in enumerate(bands(h)))
    return sorted(keys)


def take_locks(conn: Connection, keys: list[int]) -> None:
    """PostgreSQL: transaction-level advisory locks, in the given (sorted) order, in one
    statement (a set-returning scan of the array calls the lock function row by row, in
    array order).

    SQLite needs none: ``BEGIN IMMEDIATE`` already serialises every writing transaction.
    """
    if conn.dialect.name != "postgresql" or not keys:
        return
    conn.execute(_LOCKS, {"keys": keys})


_LOCKS = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"
)


@dataclass(frozen=True, slots=True)
class Found:
    """What :meth:`BatchLookup.found` found: the article's own row id and the stored
    candidates."""

    row_id: int | None
    canonical: list[tuple[int, str]]  # (id, url) of stored rows with the canonical URL
    near: list[tuple[int, int]]  # (id, simhash) of stored rows sharing a band

    def canonical_match(self) -> tuple[int, str] | None:
        """(id, url) of the first stored article that *is* this canonical URL, or names it
        as its own canonical URL; never the article itself."""
        found = [c for c in self.canonical if c[0] != self.row_id]
        return min(found) if found else None

    def near_match(self, h: int, distance: int) -> tuple[int, int] | None:
        """(id, Hamming distance) of the earliest stored article whose SimHash is within
        ``distance`` bits of ``h``; None when there is none or ``distance`` < 0."""
        if distance < 0:
            return None
        matches = [
            (row_id, bits)
            for row_id, other in self.near
            if row_id != self.row_id and (bits := hamming(other, h)) <= distance
        ]
        return min(matches) if matches else None


def _lookup_many_statement() -> Any:
    """One round trip for a batch of articles: their rows (kind 0), rows that are or name
    one of their canonical URLs (kind 1: two indexed lookups, url_hash is unique and
    canonical_hash indexed), rows sharing a band (kind 2: one indexed lookup per band),
    each an ``IN`` list (expanding parameters: one compiled statement for any batch size).
    A UNION ALL of single-index lookups rather than OR-ed conditions next to the status
    filter: SQLite's planner would otherwise pick the status index and scan every stored
    article. Status is filtered in Python, not in SQL, for the same reason."""
    c = ARTICLE.c
    columns = (c.id, c.url, c.url_hash, c.canonical_hash, c.simhash, c.status)

    def part(kind: int, column: sa.Column[Any], param: str) -> sa.Select[Any]:
        return sa.select(sa.literal(kind).label("kind"), *columns).where(
            column.in_(sa.bindparam(param, expanding=True))
        )

    return sa.union_all(
        part(0, c.url_hash, "own"),
        part(1, c.url_hash, "canonical"),
        part(1, c.canonical_hash, "canonical"),
        *(part(2, c[col], col) for col in BAND_COLUMNS),
    )


_LOOKUP_MANY = _lookup_many_statement()


class BatchLookup:
    """The dedup candidates of a batch of articles (a feed's), read in one statement, then
    kept up to date in memory as the batch's own articles are stored, so that
    :meth:`found` returns for each article what a lookup of its own would return at that
    point of the same transaction, one article after the other."""

    def __init__(
        self, conn: Connection, articles: list[tuple[str, str | None, int | None]]
    ) -> None:
        """``articles``: (url_hash, canonical_hash or None, SimHash or None) of each."""
        params: dict[str, Any] = {
            "own": [a[0] for a in articles],
            "canonical": sorted({a[1] for a in articles if a[1]}),
        }
        for i, col in enumerate(BAND_COLUMNS):
            params[col] = sorted({bands(a[2])[i] for a in articles if a[2] is not None})
        stored = {s.value for s in STORED}
        self.own: dict[str, tuple[int, str]] = {}  # url_hash -> (id, url) of the batch's rows
        # canonical candidates by the hash they match: their url_hash or canonical_hash
        self.canonical: dict[str, set[tuple[int, str]]] = {}
        # near candidates by (band index, band value)
        self.band: dict[tuple[int, int], dict[int, int]] = {}
        for row in conn.execute(_LOOKUP_MANY, params):
            if row.kind == 0:
                self.own[row.url_hash] = (row.id, row.url)
            elif row.status not in stored:
                continue
            elif row.kind == 1:
                self._add_canonical(row.id, row.url, row.url_hash, row.canonical_hash)
            elif row.simhash is not None:
                self._add_near(row.id, row.simhash)

    def _add_canonical(
        self, row_id: int, url: str, url_hash: str, canonical_hash: str | None
    ) -> None:
        for key in {url_hash, canonical_hash}:
            if key:
                self.canonical.setdefault(key, set()).add((row_id, url))

    def _add_near(self, row_id: int, simhash: int) -> None:
        for i, value in enumerate(bands(simhash)):
            self.band.setdefault((i, value), {})[row_id] = simhash

    def found(self, url_hash: str, canonical_hash: str | None, h: int | None) -> Found:
        canonical = self.canonical.get(canonical_hash, set()) if canonical_hash else set()
        near: dict[int, int] = {}
        if h is not None:
            for i, value in enumerate(bands(h)):
                near.update(self.band.get((i, value), {}))
        own = self.own.get(url_hash)
        return Found(own[0] if own else None, sorted(canonical), sorted(near.items()))

    def stored(self, url_hash: str, canonical_hash: str | None, h: int) -> None:
        """The batch's article ``url_hash`` was stored with its text (status ``queued``):
        later articles of the batch can be its duplicates."""
        row_id, url = self.own[url_hash]
        self._add_canonical(row_id, url, url_hash, canonical_hash)
        self._add_near(row_id, to_signed64(h))


@dataclass(frozen=True, slots=True)
class DedupResult:
    """What :func:`ingest.articles.record_extracted` did with an article.

    ``queued``: text stored, status ``queued`` (send it to the entity stage).
    ``kind``: ``"canonical"`` (status ``duplicate``, no text, not queued), ``"near"``
    (stored and queued, linked to the first copy) or None.
    """

    queued: bool
    duplicate_of: int | None = None
    kind: Literal["canonical", "near"] | None = None
    distance: int | None = None
