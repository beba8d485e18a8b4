"""Pure OPML import and export: subscription lists in, subscription lists out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from schemas.errors import MalformedFeed


@dataclass(frozen=True, slots=True)
class Subscription:
    url: str
    title: str | None = None


def parse_opml(data: bytes) -> list[Subscription]:
    """Every ``<outline xmlUrl=...>`` of an OPML document, nested folders included.

    Entity declarations and external references are refused (defusedxml).
    Raises :class:`MalformedFeed` with a reason for anything that is not OPML.
    """
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise MalformedFeed(f"refused OPML: {exc}", reason="hostile_opml") from None
    except SafeET.ParseError as exc:
        raise MalformedFeed(f"not well-formed XML: {exc}", reason="invalid_opml") from None
    if root.tag.lower() != "opml":
        raise MalformedFeed(f"root element is <{root.tag}>, not <opml>", reason="invalid_opml")
    found: list[Subscription] = []
    for outline in root.iter("outline"):
        attrs = {key.lower(): value for key, value in outline.attrib.items()}
        url = (attrs.get("xmlurl") or "").strip()
        if url:
            title = (attrs.get("title") or attrs.get("text") or "").strip() or None
            found.append(Subscription(url=url, title=title))
    return found


def build_opml(subscriptions: list[Subscription], *, title: str = "newsingest feeds") -> bytes:
    """An OPML 2.0 document listing ``subscriptions``."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for sub in subscriptions:
        attrs = {"type": "rss", "xmlUrl": sub.url, "text": sub.title or sub.url}
        if sub.title:
            attrs["title"] = sub.title
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
