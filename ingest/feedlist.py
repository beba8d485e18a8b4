"""The list of subscribed feeds: add, remove, list. Takes a Session; no network."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from schemas.models import Feed
from schemas.urls import InvalidUrl, normalize_url


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


def validate_urls(urls: Iterable[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Normalised URLs in input order (first occurrence kept), and (url, reason) of the bad ones."""
    good: list[str] = []
    bad: list[tuple[str, str]] = []
    for raw in urls:
        try:
            good.append(normalize_url(raw))
        except InvalidUrl as exc:
            bad.append((raw, exc.message))
    return good, bad


def add_feeds(
    session: Session,
    urls: Sequence[str],
    *,
    titles: dict[str, str | None] | None = None,
    poll_interval: int = 900,
    respect_robots: bool = True,
) -> AddResult:
    """Add feeds by URL. All-or-nothing: if any URL is invalid, nothing is added."""
    result = AddResult()
    good, result.invalid = validate_urls(urls)
    if result.invalid:
        return result
    titles = titles or {}
    existing = set(session.exec(select(Feed.url).where(col(Feed.url).in_(good))).all())
    seen: set[str] = set()
    for url in good:
        if url in existing or url in seen:
            result.duplicates.append(url)
            continue
        seen.add(url)
        session.add(
            Feed(
                url=url,
                title=titles.get(url),
                poll_interval=poll_interval,
                respect_robots=respect_robots,
            )
        )
        result.added.append(url)
    session.flush()
    return result


def remove_feeds(session: Session, urls: Sequence[str]) -> tuple[list[str], list[str]]:
    """Remove feeds by URL; returns (removed, not found). Their articles stay."""
    removed: list[str] = []
    missing: list[str] = []
    for raw in urls:
        try:
            url = normalize_url(raw)
        except InvalidUrl:
            missing.append(raw)
            continue
        feed = session.exec(select(Feed).where(Feed.url == url)).first()
        if feed is None:
            missing.append(raw)
        else:
            session.delete(feed)
            removed.append(url)
    session.flush()
    return removed, missing


def list_feeds(session: Session, *, active_only: bool = False) -> list[Feed]:
    query = select(Feed).order_by(col(Feed.id))
    if active_only:
        query = query.where(col(Feed.active).is_(True))
    return list(session.exec(query).all())
