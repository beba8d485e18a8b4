"""The entity stage's writes: idempotent, concurrent-safe, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from schemas.db import make_engine, upgrade
from schemas.models import Article, DeadLetter, Entity, Mention
from tests.support.factories import seed_extracted
from workers import dead_letters, store
from workers.entities import process_batch
from workers.nlp import load_pipeline

pytestmark = pytest.mark.integration

TEXTS = [
    "Mr Putin met Steve Witkoff in Moscow. Putin said the Kremlin wanted peace.",
    "Volodymyr Zelenskiy visited Paris, then Kyiv. Zelenskiy met Emmanuel Macron.",
    "Donald Trump spoke about Ukraine and Russia. Trump's envoy Witkoff flew to Moscow.",
    "Der Bundeskanzler hat heute in Berlin über die Wirtschaft und die Lage gesprochen.",
]


@pytest.fixture
def engine(database_url: str) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def counts(engine: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "entities": conn.execute(sa.select(sa.func.count()).select_from(Entity)).scalar(),
            "mentions": sorted(
                conn.execute(sa.select(Mention.article_id, Mention.entity_id, Mention.count)).all()  # type: ignore[call-overload]
            ),
            "statuses": sorted(
                conn.execute(
                    sa.select(Article.url_hash, Article.status, Article.status_reason)
                ).all()  # type: ignore[call-overload]
            ),
        }


def test_a_batch_stores_entities_and_skips_other_languages(engine: Any, test_model: str) -> None:
    hashes = seed_extracted(engine, TEXTS)
    outcome = process_batch(engine, load_pipeline(test_model), hashes)
    assert (outcome.stats.processed, outcome.stats.skipped) == (3, 1)
    with Session(engine) as conn:
        people = conn.exec(select(Entity.key).where(Entity.label == "PERSON")).all()
        assert sorted(people) == [
            "donald trump",
            "emmanuel macron",
            "putin",
            "steve witkoff",
            "volodymyr zelenskiy",
        ]
        german = conn.exec(select(Article).where(Article.url_hash == hashes[3])).one()
        assert german.status == "skipped"
        assert (german.status_reason or "").startswith("language_not_covered: de")
        assert german.language == "de"
        first = conn.exec(select(Article).where(Article.url_hash == hashes[0])).one()
        assert (first.status, first.nlp_model, first.nlp_model_version) == (
            "processed",
            "en_test_ner",
            "1.0.0",
        )
        assert first.processed_at is not None
        witkoff = conn.exec(
            select(Mention.count)
            .join(Entity, Entity.id == Mention.entity_id)  # type: ignore[arg-type]
            .where(Entity.key == "steve witkoff", Mention.article_id == first.id)
        ).one()
        assert witkoff == 1


def test_the_same_batch_twice_changes_nothing(engine: Any, test_model: str) -> None:
    hashes = seed_extracted(engine, TEXTS)
    pipeline = load_pipeline(test_model)
    process_batch(engine, pipeline, hashes)
    before = counts(engine)
    again = process_batch(engine, pipeline, hashes)
    assert again.stats.already_done == 4
    assert again.stats.processed == 0
    assert counts(engine) == before


def test_two_workers_storing_the_same_batch_at_once(engine: Any, test_model: str) -> None:
    hashes = seed_extracted(engine, TEXTS[:3])
    pipeline = load_pipeline(test_model)
    results = [
        store.ArticleResult(h, r.status, r.entities, r.language)
        for h, r in zip(
            hashes,
            [
                store.ArticleResult(h, store.ArticleStatus.PROCESSED, tuple(e))
                for h, e in zip(hashes, pipeline.entities(TEXTS[:3]), strict=True)
            ],
            strict=True,
        )
    ]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with engine.begin() as conn:
                store.store_results(conn, results, model="m", version="1")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    state = counts(engine)
    expected_mentions = sum(len(r.entities) for r in results)
    assert len(state["mentions"]) == expected_mentions
    assert all(status == "processed" for _, status, _ in state["statuses"])


def test_a_new_model_version_replaces_mentions(engine: Any, test_model: str, tmp_path: Any) -> None:
    from tests.support.nlpmodel import build_test_model

    hashes = seed_extracted(engine, TEXTS[:1])
    process_batch(engine, load_pipeline(test_model), hashes)
    newer = load_pipeline(str(build_test_model(tmp_path / "v2", version="2.0.0")))
    before = counts(engine)["mentions"]
    outcome = process_batch(engine, newer, hashes)
    assert outcome.stats.processed == 1
    assert counts(engine)["mentions"] == before  # same entities: replaced, not doubled
    with engine.connect() as conn:
        assert conn.execute(sa.select(Article.nlp_model_version)).scalar() == "2.0.0"  # type: ignore[call-overload]


def test_dead_letters_for_one_key_are_merged(engine: Any) -> None:
    with engine.begin() as conn:
        a = dead_letters.dead_letter(
            conn, stage="extract", key="k" * 64, message={"v": 1}, error="e1"
        )
        b = dead_letters.dead_letter(
            conn, stage="extract", key="k" * 64, message={"v": 1}, error="e2"
        )
        c = dead_letters.dead_letter(conn, stage="extract", key=None, message="{bad", error="e3")
    assert a == b != c
    with Session(engine) as conn:
        letter = conn.exec(select(DeadLetter).where(DeadLetter.id == a)).one()
        assert (letter.attempts, letter.error) == (2, "e2")


def test_a_text_that_crashes_the_model_is_dead_lettered_alone(engine: Any, test_model: str) -> None:
    hashes = seed_extracted(
        engine, [*TEXTS[:2], "POISON pill text for the model, in English words."]
    )
    pipeline = load_pipeline(test_model)
    real = pipeline.entities

    def fragile(texts: Any, batch_size: int = 16, **kwargs: Any) -> Any:
        if any("POISON" in t for t in texts):
            raise ValueError("model cannot take this text")
        return real(texts, batch_size=batch_size, **kwargs)

    pipeline.entities = fragile  # type: ignore[method-assign]
    outcome = process_batch(engine, pipeline, hashes)
    assert outcome.stats.processed == 2
    assert [h for h, _ in outcome.failed] == [hashes[2]]
    with Session(engine) as conn:
        letter = conn.exec(select(DeadLetter)).one()
        assert letter.key == hashes[2]
        assert "model cannot take this text" in letter.error
        status = conn.exec(select(Article.status).where(Article.url_hash == hashes[2])).one()
        assert status == "failed"


def test_a_short_name_meets_its_full_name_across_articles(engine: Any, test_model: str) -> None:
    """'Zelenskiy' alone in one article and 'Volodymyr Zelenskiy' in another: one entity,
    whichever comes first; 'Smith' with two full names stays apart."""
    pipeline = load_pipeline(test_model)
    first = seed_extracted(
        engine, ["Zelenskiy said on Tuesday that the talks in Kyiv had gone well."]
    )
    process_batch(engine, pipeline, first)
    with Session(engine) as s:
        assert s.exec(select(Entity.key).where(Entity.label == "PERSON")).all() == ["zelenskiy"]
    second = seed_extracted(
        engine, ["Volodymyr Zelenskiy visited Paris and met officials there on Monday."], prefix="b"
    )
    process_batch(engine, pipeline, second)
    third_text = "In Kyiv, Zelenskiy thanked the officials who had come from Paris for the talks."
    third = seed_extracted(engine, [third_text], prefix="c")
    process_batch(engine, pipeline, third)
    with Session(engine) as s:
        people = s.exec(select(Entity).where(Entity.label == "PERSON")).all()
        assert [(p.key, p.name) for p in people] == [("volodymyr zelenskiy", "Volodymyr Zelenskiy")]
        mentions = s.exec(select(Mention).where(Mention.entity_id == people[0].id)).all()
        assert len(mentions) == 3  # all three articles now point at the one person


def test_a_short_name_with_two_full_names_stays_apart(engine: Any) -> None:
    from workers.entity_keys import EntityCount

    hashes = seed_extracted(engine, ["a text", "b text", "c text"])
    results = [
        store.ArticleResult(h, store.ArticleStatus.PROCESSED, (EntityCount("PERSON", k, k, 1, 0),))
        for h, k in zip(hashes, ["john smith", "jane smith", "smith"], strict=True)
    ]
    with engine.begin() as conn:
        store.store_results(conn, results, model="m", version="1")
    with Session(engine) as s:
        keys = sorted(s.exec(select(Entity.key)).all())
    assert keys == ["jane smith", "john smith", "smith"]
