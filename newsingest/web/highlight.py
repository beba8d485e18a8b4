"""Article text as HTML: every piece escaped, entity names marked by kind and linked to their
page, search snippets with their matches marked. The text is hostile input: nothing in it
becomes markup."""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup, escape

from query.fulltext import HL_END, HL_START
from query.views import ArticleMention

MAX_NAMES = 200


def entity_html(text: str, mentions: Sequence[ArticleMention]) -> Markup:
    """``text`` with each entity's name (whole words, case-sensitive; a person's surname too)
    wrapped in a link ``<a class="ent KIND">``; longer names first, never overlapping."""
    names: dict[str, ArticleMention] = {}
    for m in mentions[:MAX_NAMES]:
        name = m.entity.name.strip()
        if len(name) >= 2 and name not in names:
            names[name] = m
    for m in mentions[:MAX_NAMES]:
        # A person named in full is usually named again by surname alone ("Merkel").
        words = m.entity.name.split()
        if m.entity.kind == "people" and len(words) > 1 and len(words[-1]) >= 3:
            names.setdefault(words[-1], m)
    if not names:
        return escape(text)
    ordered = sorted(names, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in ordered) + r")(?!\w)")
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        m = names[match.group(1)]
        out.append(str(escape(text[pos : match.start()])))
        out.append(
            f'<a class="ent {escape(m.entity.kind)}" href="/entities/{m.entity.id}" '
            f'title="{escape(m.entity.label)}" data-label="{escape(m.entity.label)}">'
            f"{escape(match.group(1))}</a>"
        )
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))  # noqa: S704 - each piece escaped above


def snippet_html(snippet: str | None) -> Markup:
    """A search snippet with its matches in ``<mark>`` (the database marks them with control
    characters that cannot be in stored text, so the text can be escaped first)."""
    if not snippet:
        return Markup("")
    escaped = str(escape(snippet))
    return Markup(  # noqa: S704 - escaped first, then only our own tags added
        escaped.replace(HL_START, "<mark>").replace(HL_END, "</mark>")
    )


def snippet_text(snippet: str | None) -> str | None:
    if snippet is None:
        return None
    return snippet.replace(HL_START, "").replace(HL_END, "")
