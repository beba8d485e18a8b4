"""Pages that are not an article (placeholder)."""

from __future__ import annotations

from lxml.html import HtmlElement

from ingest.extract.jsonld import StructuredData


def check(tree: HtmlElement, text: str, structured: StructuredData) -> None:
    return None
