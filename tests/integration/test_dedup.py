"""Cross-feed dedup: the band index, and end to end through ``run_poll`` (the SimHash
units are in tests/unit/test_dedup.py).

End-to-end tests use the loopback HTTP server and a real database (SQLite, and PostgreSQL
where the ``database_url`` fixture runs them twice).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingest import dedup
from ingest.articles import Candidate, Extracted, claim, record_extracted, record_extracted_many
from ingest.feedlist import add_feeds
from ingest.poll import PollSummary, run_poll
from schemas.db import make_engine, session_scope, upgrade
from schemas.models import Article
from schemas.settings import Settings, load_settings
from schemas.urls import url_hash
from tests.support.factories import (
    COPY,
    COPY_HEADLINE,
    HEADLINE,
    OTHER,
    WIRE,
    article_page,
    rss,
)
from tests.support.httpserver import LoopbackCluster, LoopbackServer

ROOT = Path(__file__).resolve().parents[2]

# SimHash of this exact text, pinned: stored hashes must stay comparable across releases.
PINNED_TEXT = "Der Hafen wächst: the port grows, again and again."


# --- SimHash across processes --------------------------------------------------------------


def test_simhash_is_the_same_in_another_process() -> None:
    code = f"from ingest.dedup import simhash; print(simhash({PINNED_TEXT!r}))"
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == dedup.simhash(PINNED_TEXT) == 0x87F2594A33BA19AA


# --- the band index in the database -----------------------------------------------------------


@pytest.fixture
def engine(database_url: str) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def claimed(engine: Any, *names: str) -> list[str]:
    urls = [f"https://n.example/{name}" for name in names]
    cands = [Candidate(url=u, url_hash=url_hash(u), feed_id=None) for u in urls]
    with engine.begin() as conn:
        won, _ = claim(conn, cands, lock_ttl=600)
    assert len(won) == len(names)
    return [c.url_hash for c in cands]


def fields(name: str, text: str = "some text of the article") -> dict[str, Any]:
    return {"text": text, "word_count": 5, "canonical_url": f"https://n.example/{name}"}


def article(engine: Any, hash_: str) -> Article:
    with session_scope(engine) as s:
        return s.exec(sa.select(Article).where(Article.url_hash == hash_)).scalar_one()  # type: ignore[call-overload,arg-type]


@pytest.mark.integration
def test_band_index_finds_every_hash_within_the_distance_earliest_first(engine: Any) -> None:
    base = 0x8123_4567_89AB_CDEF  # top bit set: stored negative
    three = base ^ (1 << 63) ^ (1 << 40) ^ (1 << 20)  # one bit in each of three bands
    four = base ^ (1 << 62) ^ (1 << 41) ^ (1 << 21) ^ (1 << 1)  # every band differs
    two = base ^ 0b11
    names = ["base", "three", "four", "two"]
    hashes = claimed(engine, *names)
    results = {}
    with engine.begin() as conn:
        for name, h, fp in zip(names, hashes, (base, three, four, two), strict=True):
            results[name] = record_extracted(conn, h, fields(name), fingerprint=fp)
    first = article(engine, hashes[0])
    assert first.simhash == dedup.to_signed64(base) < 0
    assert (first.simhash_b0, first.simhash_b3) == (0x8123, 0xCDEF)
    assert results["base"] == dedup.DedupResult(queued=True)
    assert (results["three"].kind, results["three"].duplicate_of) == ("near", first.id)
    assert results["three"].distance == 3
    assert results["four"].kind is None  # 4 bits: not a near-duplicate
    assert results["two"].duplicate_of == first.id  # earliest copy wins over "three"
    assert all(r.queued for r in results.values())


@pytest.mark.integration
def test_near_linking_off_and_canonical_duplicates_without_a_fingerprint(engine: Any) -> None:
    a, b, c = claimed(engine, "a", "b", "c")
    with engine.begin() as conn:
        record_extracted(conn, a, fields("a", "x y z"), near_duplicate_distance=-1)
        off = record_extracted(conn, b, fields("b", "x y z"), near_duplicate_distance=-1)
        # c names a as its canonical URL: a duplicate, its text not kept
        dup = record_extracted(conn, c, fields("a", "x y z w"))
    assert off == dedup.DedupResult(queued=True)
    first = article(engine, a)
    assert dup == dedup.DedupResult(queued=False, duplicate_of=first.id, kind="canonical")
    row = article(engine, c)
    assert (row.status, row.text, row.simhash, row.canonical_hash) == ("duplicate", "", None, a)
    assert row.status_reason is not None
    assert row.status_reason.startswith(f"same canonical URL as article {first.id}")


@pytest.mark.integration
def test_a_canonical_link_to_the_site_root_is_ignored(engine: Any) -> None:
    """Sites that point every page's canonical at the home page must not lose articles."""
    a, b = claimed(engine, "a", "b")
    root = {"canonical_url": "https://n.example/?utm_source=x"}
    with engine.begin() as conn:
        first = record_extracted(conn, a, {**fields("a", "one two three"), **root})
        second = record_extracted(conn, b, {**fields("b", "four five six"), **root})
    assert first == second == dedup.DedupResult(queued=True)
    assert article(engine, b).canonical_hash == b  # its own URL instead


#: What ``while_the_first_holds`` records when the second transaction waits for the first's lock.
WAITED = ["second waits on a lock", "first commits", "second done"]


def while_the_first_holds(
    engine: Any, first: Callable[[Any], None], second: Callable[[Any], None]
) -> list[str]:
    """PostgreSQL: ``first`` in a transaction (in a thread) held open until ``second``, run in
    another transaction meanwhile, is seen waiting on an advisory lock (or 10 s pass); the
    events in the order they happened (``WAITED`` when the second waited for the first)."""
    events: list[str] = []
    ran = threading.Event()
    second_pid: list[int] = []

    def second_waits_on_a_lock() -> bool:
        query = sa.text("SELECT wait_event FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if second_pid:
                with engine.connect() as probe:
                    if probe.execute(query, {"pid": second_pid[0]}).scalar() == "advisory":
                        return True
            time.sleep(0.02)
        return False

    def hold() -> None:
        with engine.begin() as conn:
            first(conn)
            ran.set()
            if second_waits_on_a_lock():
                events.append("second waits on a lock")
            events.append("first commits")

    thread = threading.Thread(target=hold)
    thread.start()
    assert ran.wait(10)
    with engine.begin() as conn:
        second_pid.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        second(conn)
        events.append("second done")
    thread.join()
    return events


@pytest.mark.integration
def test_concurrent_copies_on_postgresql_cannot_both_be_first(postgres_url: str) -> None:
    """The second transaction waits on the advisory lock of a shared band, then sees the
    first's committed row. Without the lock both would miss each other (READ COMMITTED)."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        first_h, second_h, canon_a, canon_b = claimed(engine, "p1", "p2", "c1", "c2")
        results: dict[str, dedup.DedupResult] = {}

        def first(conn: Any) -> None:
            results["first"] = record_extracted(conn, first_h, fields("p1", "a b c"))
            results["canon_a"] = record_extracted(conn, canon_a, fields("shared", "d e"))

        def second(conn: Any) -> None:
            results["second"] = record_extracted(conn, second_h, fields("p2", "a b c"))
            results["canon_b"] = record_extracted(conn, canon_b, fields("shared", "d e f"))

        assert while_the_first_holds(engine, first, second) == WAITED
        assert results["first"].kind is None
        assert results["second"].kind == "near"
        assert results["second"].duplicate_of == article(engine, first_h).id
        assert results["canon_b"].kind == "canonical"
        assert results["canon_b"].duplicate_of == article(engine, canon_a).id
    finally:
        engine.dispose()


@pytest.mark.integration
def test_a_batch_stores_what_one_transaction_per_article_would(engine: Any) -> None:
    """One feed's articles in one call: each item's lookup sees the items before it, so a
    near copy and a canonical duplicate inside the batch are found, results in order."""
    base = 0x0123_4567_89AB_CDEF
    names = ["first", "near", "canon", "other", "gone"]
    hashes = claimed(engine, *names)
    with engine.begin() as conn:  # a row that vanished (deleted by hand) is not stored
        conn.execute(sa.delete(Article.__table__).where(Article.url_hash == hashes[4]))  # type: ignore[attr-defined,arg-type]
    items = [
        Extracted(hashes[0], fields("first", "one two three"), base),
        Extracted(hashes[1], fields("near", "one two three four"), base ^ 0b101),
        Extracted(hashes[2], fields("first", "one two"), None),  # canonical = the first's URL
        Extracted(hashes[3], fields("other", "five six seven"), ~base & dedup.MASK64),
        Extracted(hashes[4], fields("gone"), base),
    ]
    with engine.begin() as conn:
        results = record_extracted_many(conn, items)
    first = article(engine, hashes[0]).id
    assert results == [
        dedup.DedupResult(queued=True),
        dedup.DedupResult(queued=True, duplicate_of=first, kind="near", distance=2),
        dedup.DedupResult(queued=False, duplicate_of=first, kind="canonical"),
        dedup.DedupResult(queued=True),
        dedup.DedupResult(queued=False),
    ]
    assert [article(engine, h).status for h in hashes[:4]] == [
        "queued",
        "queued",
        "duplicate",
        "queued",
    ]
    assert article(engine, hashes[1]).duplicate_of == first


@pytest.mark.integration
def test_a_batch_matches_one_article_at_a_time_on_random_copies(engine: Any) -> None:
    """40 articles drawn from a few near-identical fingerprints and a few canonical URLs
    (so near copies, canonical duplicates and chains of both occur, in random order):
    stored as one batch, every outcome is the one storing them one by one gives."""
    import random

    rng = random.Random(7)
    bases = [rng.getrandbits(64) for _ in range(4)]
    names = [f"r{i}" for i in range(40)]
    specs = []
    for name in names:
        h = rng.choice(bases)
        for _ in range(rng.choice([0, 0, 1, 2, 5])):  # 0-2 bits: near; 5: not near
            h ^= 1 << rng.randrange(64)
        canonical = rng.choice([name, name, name, "c1", "c2", "r3", "r11"])
        specs.append((fields(canonical, f"text of {name}"), h))

    def outcomes(results: list[dedup.DedupResult], hashes: list[str]) -> list[tuple[Any, ...]]:
        index = {article(engine, h).id: i for i, h in enumerate(hashes)}
        return [(r.queued, r.kind, index.get(r.duplicate_of), r.distance) for r in results]

    hashes = claimed(engine, *names)
    with engine.begin() as conn:
        one_by_one = [
            record_extracted(conn, h, spec, fingerprint=fp)
            for h, (spec, fp) in zip(hashes, specs, strict=True)
        ]
    expected = outcomes(one_by_one, hashes)
    assert {kind for _, kind, _, _ in expected} == {None, "near", "canonical"}
    with engine.begin() as conn:
        conn.execute(sa.delete(Article.__table__))  # type: ignore[attr-defined]
    hashes = claimed(engine, *names)
    with engine.begin() as conn:
        batch = record_extracted_many(
            conn,
            [Extracted(h, spec, fp) for h, (spec, fp) in zip(hashes, specs, strict=True)],
        )
    assert outcomes(batch, hashes) == expected


@pytest.mark.integration
def test_a_concurrent_batch_on_postgresql_waits_and_links_every_copy(postgres_url: str) -> None:
    """Two fetchers store batches whose items are copies of each other, in opposite order.
    The second batch takes its locks (all at once, sorted) and waits until the first
    commits, then links both its items to the first batch's rows."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    x, y = 0x1111_2222_3333_4444, 0x5555_6666_7777_8888
    try:
        h = claimed(engine, "x1", "y1", "y2", "x2")
        results: dict[str, list[dedup.DedupResult]] = {}

        def first(conn: Any) -> None:
            results["a"] = record_extracted_many(
                conn, [Extracted(h[0], fields("x1"), x), Extracted(h[1], fields("y1"), y)]
            )

        def second(conn: Any) -> None:
            results["b"] = record_extracted_many(
                conn, [Extracted(h[2], fields("y2"), y ^ 1), Extracted(h[3], fields("x2"), x ^ 1)]
            )

        assert while_the_first_holds(engine, first, second) == WAITED
        assert [r.kind for r in results["a"]] == [None, None]
        assert [(r.kind, r.duplicate_of) for r in results["b"]] == [
            ("near", article(engine, h[1]).id),
            ("near", article(engine, h[0]).id),
        ]
    finally:
        engine.dispose()


# --- end to end through run_poll ----------------------------------------------------------------


class RecordingEnqueuer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, url_hashes: list[str]) -> int:
        self.sent.extend(url_hashes)
        return len(url_hashes)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSINGEST_ALLOWED_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("NEWSINGEST_READ_TIMEOUT", "2")
    monkeypatch.setenv("NEWSINGEST_TOTAL_TIMEOUT", "5")
    return load_settings()


def subscribe(engine: Any, *urls: str) -> None:
    with session_scope(engine) as s:
        assert add_feeds(s, list(urls)).added


def poll(
    settings: Settings, engine: Any, enqueuer: RecordingEnqueuer, **kwargs: Any
) -> PollSummary:
    return asyncio.run(run_poll(settings, engine, enqueuer, processes=0, **kwargs))


def by_url(engine: Any) -> dict[str, Article]:
    with session_scope(engine) as s:
        return {a.url: a for a in s.exec(sa.select(Article)).scalars()}  # type: ignore[call-overload]


def feed(srv: LoopbackServer | LoopbackCluster, path: str, links: list[str]) -> str:
    srv.add(path, rss([(f"item {i}", u) for i, u in enumerate(links)]), content_type="text/xml")
    return srv.url(path)


@pytest.mark.integration
def test_same_article_in_two_feeds_with_tracking_parameters_is_stored_once(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/port.html", article_page(HEADLINE, WIRE))
    plain = srv.url("/port.html")
    tracked = plain + "?utm_source=partner&utm_medium=rss&fbclid=abc"
    subscribe(engine, feed(srv, "/one.xml", [plain]), feed(srv, "/two.xml", [tracked]))
    enqueuer = RecordingEnqueuer()

    summary = poll(settings, engine, enqueuer)

    stored = by_url(engine)
    assert list(stored) == [plain]
    assert (summary.articles_new, summary.articles_duplicate) == (1, 1)
    assert summary.articles_canonical_duplicate == summary.articles_near_duplicate == 0
    assert len(srv.requests_for("/port.html")) == 1
    assert enqueuer.sent == [url_hash(plain)]
    assert stored[plain].canonical_hash == url_hash(plain)


@pytest.mark.integration
def test_page_whose_canonical_link_is_a_stored_article_is_a_duplicate_without_text(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    srv = http_server
    srv.add("/news/port.html", article_page(HEADLINE, WIRE))
    original = srv.url("/news/port.html")
    # The AMP version of the same story, reached through another feed, with its own URL.
    amp_page = article_page(HEADLINE, WIRE, extra="<p>Read the full version on our site.</p>")
    amp_page = amp_page.replace(
        "</head>", '<link rel="canonical" href="/news/port.html?utm_source=amp"></head>'
    )
    srv.add("/amp/port.html", amp_page)
    amp = srv.url("/amp/port.html")
    subscribe(engine, feed(srv, "/main.xml", [original]))
    first_enqueuer = RecordingEnqueuer()
    assert poll(settings, engine, first_enqueuer).articles_new == 1
    subscribe(engine, feed(srv, "/amp.xml", [amp]))
    enqueuer = RecordingEnqueuer()

    summary = poll(settings, engine, enqueuer, urls=[srv.url("/amp.xml")])

    stored = by_url(engine)
    first, dup = stored[original], stored[amp]
    assert (first.status, dup.status) == ("queued", "duplicate")
    assert dup.duplicate_of == first.id
    assert dup.text == ""
    assert dup.word_count == 0
    assert dup.simhash is None
    assert dup.canonical_hash == first.url_hash
    assert dup.status_reason is not None
    assert dup.status_reason.startswith(f"same canonical URL as article {first.id}")
    assert dup.title == HEADLINE  # the row still says what the page was
    assert "Miriam Okafor" in first.text
    assert first.duplicate_of is None
    assert enqueuer.sent == []
    assert (summary.articles_new, summary.articles_duplicate) == (0, 1)
    assert summary.articles_canonical_duplicate == 1


@pytest.mark.integration
def test_a_page_and_its_canonical_original_in_one_poll_keep_one_text(
    http_server: LoopbackServer, settings: Settings, engine: Any
) -> None:
    """Fetched concurrently: whichever is recorded first keeps the text, the other is its
    duplicate (on PostgreSQL the advisory lock on the canonical hash orders them)."""
    srv = http_server
    srv.add("/news/port.html", article_page(HEADLINE, WIRE))
    page = article_page(HEADLINE, WIRE).replace(
        "</head>", f'<link rel="canonical" href="{srv.url("/news/port.html")}"></head>'
    )
    srv.add("/print/port.html", page)
    links = [srv.url("/news/port.html"), srv.url("/print/port.html")]
    subscribe(engine, feed(srv, "/feed.xml", links))
    enqueuer = RecordingEnqueuer()

    summary = poll(settings, engine, enqueuer)

    rows = list(by_url(engine).values())
    kept = [r for r in rows if r.status == "queued"]
    dups = [r for r in rows if r.status == "duplicate"]
    assert len(kept) == len(dups) == 1
    assert dups[0].duplicate_of == kept[0].id
    assert dups[0].text == ""
    assert enqueuer.sent == [kept[0].url_hash]
    assert (summary.articles_new, summary.articles_canonical_duplicate) == (1, 1)


@pytest.mark.integration
@pytest.mark.parametrize("distance", [3, -1])
def test_syndicated_copy_on_another_host_is_stored_and_linked_to_the_first(
    http_cluster: LoopbackCluster, settings: Settings, engine: Any, distance: int
) -> None:
    cluster = http_cluster
    settings = settings.model_copy(update={"near_duplicate_distance": distance})
    cluster.add("/wire/port.html", article_page(HEADLINE, WIRE))
    partner_page = article_page(COPY_HEADLINE, COPY).replace("Loopback Times", "Partner Daily")
    cluster.add("/partner/harbour-plan.html", partner_page)
    cluster.add("/partner/marathon.html", article_page("Marathon in the stadium", OTHER))
    original = cluster.url("/wire/port.html", 0)
    copy = cluster.url("/partner/harbour-plan.html", 1)
    other = cluster.url("/partner/marathon.html", 1)
    subscribe(engine, feed(cluster, "/wire.xml", [original]))
    assert poll(settings, engine, RecordingEnqueuer()).articles_new == 1
    feed(cluster, "/partner.xml", [copy, other])
    subscribe(engine, cluster.url("/partner.xml", 1))
    enqueuer = RecordingEnqueuer()

    summary = poll(settings, engine, enqueuer, urls=[cluster.url("/partner.xml", 1)])

    stored = by_url(engine)
    first, linked, unrelated = stored[original], stored[copy], stored[other]
    assert first.simhash is not None
    assert linked.simhash is not None
    bits = dedup.hamming(first.simhash, linked.simhash)
    assert bits <= 3, bits
    assert linked.status == "queued"
    assert "Miriam Okafor" in linked.text
    assert linked.title == COPY_HEADLINE
    assert sorted(enqueuer.sent) == sorted([linked.url_hash, unrelated.url_hash])
    assert summary.articles_new == 2
    assert summary.articles_duplicate == 0
    assert unrelated.duplicate_of is None
    assert first.duplicate_of is None
    assert (linked.simhash_b0, linked.simhash_b1, linked.simhash_b2, linked.simhash_b3) == (
        dedup.bands(linked.simhash)
    )
    if distance >= 0:
        assert linked.duplicate_of == first.id
        assert summary.articles_near_duplicate == 1
    else:
        assert linked.duplicate_of is None
        assert summary.articles_near_duplicate == 0
