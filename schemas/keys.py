"""Entity keys, shared by the side that stores entities and the side that looks them up.

Case and whitespace are folded, a possessive ``'s`` and a leading "the" dropped, honorifics
removed ("Mr Putin" -> "putin"), and for people the titles the European models include in a
span ("Bundeskanzler Olaf Scholz" -> "olaf scholz"). Diacritics are kept ("Zürich" and
"Zurich" are two keys). Pure functions of strings.
"""

from __future__ import annotations

import re
import unicodedata

PERSON_LABELS = frozenset({"PERSON", "PER"})
HONORIFICS = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady", "rev",
        "fr", "sr", "sra", "herr", "frau", "mme", "mlle", "monsieur", "madame", "sheikh",
    }
)  # fmt: skip
#: Titles the German, French, Spanish, Portuguese and Dutch models often include in a person's
#: span ("Bundeskanzler Olaf Scholz"): dropped from PERSON keys only ("Premier League" is not
#: a person), so the name meets the same person in other languages.
PERSON_TITLES = frozenset(
    {
        "bundeskanzler", "bundeskanzlerin", "kanzler", "kanzlerin", "präsident", "präsidentin",
        "ministerpräsident", "ministerpräsidentin", "minister", "ministerin", "président",
        "présidente", "ministre", "presidente", "ministro", "ministra", "premier",
        "primeiro-ministro", "primeira-ministra", "señor", "señora", "senhor", "senhora",
        "dhr", "mevr", "mevrouw", "meneer", "president", "papst", "pape", "papa",
    }
)  # fmt: skip
APOSTROPHES = "'\u2019\u02bc`\u00b4"
POSSESSIVE = re.compile(rf"[{APOSTROPHES}]s?$", re.IGNORECASE)
EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
SPACE = re.compile(r"\s+")


def normalize_key(text: str, label: str = "") -> str:
    """The entity key of a surface form (see the module docstring)."""
    value = unicodedata.normalize("NFKC", text).casefold()
    value = SPACE.sub(" ", value).strip()
    value = POSSESSIVE.sub("", value)
    value = EDGE_PUNCT.sub("", value)
    words = value.split(" ")
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    if label in PERSON_LABELS or len(words) > 1:
        titles = HONORIFICS | PERSON_TITLES if label in PERSON_LABELS else HONORIFICS
        while len(words) > 1 and words[0].rstrip(".") in titles:
            words = words[1:]
    return " ".join(words).strip()


def display_name(text: str, label: str = "") -> str:
    """A surface form for display: whitespace collapsed, possessive and honorific dropped."""
    value = SPACE.sub(" ", text).strip()
    value = POSSESSIVE.sub("", value).strip()
    words = value.split(" ")
    titles = HONORIFICS | PERSON_TITLES if label in PERSON_LABELS else HONORIFICS
    while len(words) > 1 and words[0].rstrip(".").casefold() in titles:
        words = words[1:]
    return " ".join(words)


def lookup_keys(name: str) -> tuple[str, ...]:
    """The keys a name typed by a person may be stored under: folded as any entity, and as a
    person (titles dropped); one key when both agree."""
    plain, person = normalize_key(name), normalize_key(name, "PERSON")
    return (plain,) if plain == person else (plain, person)
