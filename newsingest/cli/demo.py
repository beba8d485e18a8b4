"""`demo`: the offline first run on a bundled sample site."""

from __future__ import annotations

from typing import Annotated

import typer

from newsingest.cli.common import Commands, engine, err, infrastructure, out, print_rows, settings
from newsingest.cli.poll import poll_once, print_summary
from schemas.errors import ConfigError

commands = Commands()


@commands.command("demo")
def demo_cmd(
    port: Annotated[int, typer.Option(help="Loopback port for the sample site.")] = 8765,
) -> None:
    """Offline first run: serve a bundled sample news site on loopback and ingest it end to end."""
    import ipaddress

    import sqlalchemy as sa

    from ingest.demo import FEEDS, serve
    from ingest.feedlist import add_feeds
    from schemas.db import session_scope, upgrade
    from schemas.models import Article, Entity, Mention
    from workers.nlp import RULES_MODEL, model_available, resolve_model

    s = settings()
    model = resolve_model(s)
    try:
        model_available(model)
    except ConfigError:
        err.print(
            f"[yellow]note:[/] spaCy model {model!r} is not installed; the demo uses newsingest's "
            "small rule-based fallback, which finds far fewer entities than a trained model "
            "(it knows people after a title and organisations by their last word)."
        )
        model = RULES_MODEL
    loopback = ipaddress.ip_network("127.0.0.1/32")
    s = s.model_copy(
        update={
            "allowed_networks": [*s.allowed_networks, loopback],
            "spacy_model": model,
            "respect_robots": False,
        }
    )
    with infrastructure("database"):
        upgrade(s.database_url)
    bound = engine()
    server = serve(port)
    try:
        base = server.__enter__()
    except OSError:
        err.print(f"[yellow]note:[/] port {port} is taken; serving on a free port instead")
        server = serve(0)
        base = server.__enter__()
    try:
        out.print(f"serving the sample site at {base}/ (a fictional newspaper)")
        with session_scope(bound) as sess:
            added = add_feeds(sess, [f"{base}/{name}" for name in FEEDS])
        urls = [f"{base}/{name}" for name in FEEDS]
        out.print(f"feeds: {len(added.added)} added, {len(added.duplicates)} already there")
        with infrastructure("broker"):
            summary = poll_once(s, bound, urls=urls)
        print_summary(s, summary)
    finally:
        server.__exit__(None, None, None)

    with session_scope(bound) as sess:
        rows = sess.execute(
            sa.select(Article.title, Article.language, Article.status, Article.word_count)  # type: ignore[call-overload]
            .where(Article.url.like(f"{base}/%"))  # type: ignore[attr-defined]
            .order_by(Article.published_at)
        ).all()
        top = sess.execute(
            sa.select(Entity.label, Entity.name, sa.func.sum(Mention.count).label("n"))  # type: ignore[call-overload]
            .join(Mention, Mention.entity_id == Entity.id)
            .join(Article, Article.id == Mention.article_id)
            .where(Article.url.like(f"{base}/%"))  # type: ignore[attr-defined]
            .group_by(Entity.label, Entity.name)
            .order_by(sa.desc("n"), Entity.name)
            .limit(10)
        ).all()
        models = sess.execute(
            sa.select(Article.nlp_model, Article.nlp_model_version)  # type: ignore[call-overload]
            .where(Article.url.like(f"{base}/%"), Article.nlp_model.is_not(None))  # type: ignore[attr-defined,union-attr]
            .distinct()
        ).all()
    print_rows(
        "stored articles",
        ["title", "lang", "status", "words"],
        [[r.title or "", r.language or "", r.status, str(r.word_count)] for r in rows],
    )
    for name, version in models:
        out.print(f"entities by spaCy pipeline {name} {version}")
    print_rows(
        f"top entities ({model})",
        ["label", "entity", "mentions"],
        [[r.label, r.name, str(r.n)] for r in top],
    )
    out.print(f"stored in {s.database_url}; try `newsingest feeds list` and `newsingest dlq list`")


def register(app: typer.Typer) -> None:
    commands.register(app)
