"""Entity keys: the surface forms of one name meet under one key.

Case and whitespace are folded, a possessive ``'s`` and a leading "the" dropped, honorifics
removed ("Mr Putin" -> "putin"), and within one article a person's short form is folded into
the one longer name it is part of ("Putin" and "Vladimir Putin" -> "vladimir putin") when that
is unambiguous. Pure functions of strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.keys import PERSON_LABELS
from schemas.keys import display_name as display_name
from schemas.keys import normalize_key as normalize_key


@dataclass(frozen=True, slots=True)
class Mention:
    text: str
    label: str  # the common label (workers.labels)
    start: int  # character offset in the article text
    model_label: str = ""  # the model's own label


@dataclass(frozen=True, slots=True)
class EntityCount:
    label: str
    key: str
    name: str
    count: int
    first_offset: int
    model_label: str = ""  # the model's label of most of the mentions


def aggregate(mentions: Iterable[Mention]) -> list[EntityCount]:
    """Group one article's mentions by (label, key); fold short person names into long ones."""
    groups: dict[tuple[str, str], list[Mention]] = {}
    for m in mentions:
        key = normalize_key(m.text, m.label)
        if key:
            groups.setdefault((m.label, key), []).append(m)
    # Person short forms: "putin" joins "vladimir putin" when exactly one longer name ends
    # with (or starts with) it among this article's people.
    people = [key for (label, key) in groups if label in PERSON_LABELS]
    for label, key in list(groups):
        if label not in PERSON_LABELS or (label, key) not in groups:
            continue
        tokens = key.split(" ")
        longer = [
            other
            for other in people
            if other != key
            and len(other.split(" ")) > len(tokens)
            and (
                other.split(" ")[-len(tokens) :] == tokens
                or other.split(" ")[: len(tokens)] == tokens
            )
        ]
        if len(longer) == 1 and (label, longer[0]) in groups:
            groups[(label, longer[0])].extend(groups.pop((label, key)))
    out = []
    for (label, key), found in groups.items():
        names = [display_name(m.text, label) for m in found]
        name = max(names, key=lambda n: (len(n.split()), names.count(n), -names.index(n)))
        model_labels = [m.model_label or m.label for m in found]
        out.append(
            EntityCount(
                label=label,
                key=key[:512],
                name=name[:512],
                count=len(found),
                first_offset=min(m.start for m in found),
                model_label=max(model_labels, key=lambda x: (model_labels.count(x), x)),
            )
        )
    return sorted(out, key=lambda e: (e.first_offset, e.label, e.key))
