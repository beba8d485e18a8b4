"""One label vocabulary for every language's model.

The English model speaks OntoNotes (PERSON, ORG, GPE, LOC, FAC, NORP, DATE, ...); the
German, French, Spanish, Portuguese and Dutch models speak PER / ORG / LOC (and MISC where a
model has it). Entities are stored and queried under the common label, so ``--label PERSON``
finds people in every language, and the model's own label is kept on the mention row.

Places: the PER/ORG/LOC models cannot tell a country or city (OntoNotes GPE) from a river or
a building (LOC, FAC), so the common label is the coarser one, LOC, for all of them; the
model label (GPE, FAC) still says which. Labels the other models do not have (NORP, DATE,
MONEY, ...) are stored as the English model gives them.
"""

from __future__ import annotations

#: Model label -> stored label; a label not listed is stored as it is.
COMMON_LABELS: dict[str, str] = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "ORG": "ORG",
    "LOC": "LOC",
    "GPE": "LOC",
    "FAC": "LOC",
    "MISC": "MISC",
}


def common_label(model_label: str) -> str:
    """The stored label of a model's label (``PER`` -> ``PERSON``, ``GPE`` -> ``LOC``)."""
    return COMMON_LABELS.get(model_label, model_label)


def query_label(label: str) -> str:
    """The stored label a user's ``--label`` means: model labels are accepted too."""
    return common_label(label.strip().upper())
