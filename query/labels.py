"""Entity labels as people follow them, and entity names folded the way keys are stored.

One table maps the models' labels (spaCy OntoNotes and WikiNER style) to the kinds the
read side shows. ``entities top`` shows the named kinds by default; dates, times, money and
numbers only when ``--label`` asks for them.
"""

from __future__ import annotations

from query.errors import InvalidQuery

#: kind -> the stored labels it covers (the first is the canonical one).
KINDS: dict[str, tuple[str, ...]] = {
    "people": ("PERSON", "PER"),
    "organisations": ("ORG",),
    "places": ("GPE", "LOC", "FAC"),
    "groups": ("NORP",),
    "events": ("EVENT",),
    "products": ("PRODUCT",),
    "misc": ("MISC", "WORK_OF_ART", "LAW", "LANGUAGE"),
    "dates": ("DATE",),
    "times": ("TIME",),
    "money": ("MONEY",),
    "numbers": ("CARDINAL", "ORDINAL", "PERCENT", "QUANTITY"),
}
NAMED_KINDS = ("people", "organisations", "places", "groups", "events", "products")
ALIASES = {"person": "people", "org": "organisations", "organizations": "organisations"}


def named_labels() -> tuple[str, ...]:
    """The labels ``entities top`` shows when no ``--label`` is given."""
    return tuple(label for kind in NAMED_KINDS for label in KINDS[kind])


def kind_of(label: str) -> str:
    for kind, labels in KINDS.items():
        if label in labels:
            return kind
    return "other"


def resolve_labels(value: str | None) -> tuple[str, ...] | None:
    """``--label``: a kind (``people``), a stored label (``PERSON``) or several, comma-separated.
    None when not given."""
    if value is None or not value.strip():
        return None
    out: list[str] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        kind = ALIASES.get(part.lower(), part.lower())
        if kind in KINDS:
            labels = KINDS[kind]
        elif part.upper() in {label for group in KINDS.values() for label in group}:
            # a stored label asks for its whole kind: PERSON also finds PER
            labels = KINDS[kind_of(part.upper())]
        else:
            known = ", ".join(KINDS)
            raise InvalidQuery(f"unknown label {part!r}: use one of {known} or a label (PERSON)")
        out += [label for label in labels if label not in out]
    return tuple(out) or None
