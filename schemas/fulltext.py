"""The full-text index of articles: its DDL on both backends, owned by migration 0004.

PostgreSQL: ``article.search_vector`` (tsvector, title weight A, text weight B), kept by a
trigger that only recomputes it when title, text or language change (the entity store's
status update leaves it alone), indexed with GIN. The text search configuration follows
``article.language``: ``newsingest_<cfg>`` is PostgreSQL's own configuration for that
language with ``unaccent`` in front of its stemmer, so "Zürich" and "zurich" are one lexeme;
languages PostgreSQL has no stemmer for use ``newsingest_simple`` (unaccent, lower case).

SQLite: ``article_fts``, an external-content FTS5 table over ``article(title, text)`` with
the ``porter`` stemmer around ``unicode61 remove_diacritics 2``, kept in step by triggers.
Porter is English-only: stemming agrees with PostgreSQL for English articles; other
languages are matched on their unstemmed (accent-folded) words by SQLite.

These objects are not SQLModel metadata (they are dialect-specific), so autogenerate and the
schema comparison skip them by name: :data:`SEARCH_OBJECTS`.
"""

from __future__ import annotations

#: ISO 639-1 code -> PostgreSQL text search configuration (the stemmer).
PG_CONFIGS: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
FTS_TABLE = "article_fts"
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_article_search_vector"
SEARCH_OBJECTS = frozenset({FTS_TABLE, SEARCH_COLUMN, SEARCH_INDEX})
"""Names the schema comparison ignores (``article_fts_*`` shadow tables too)."""


def is_search_object(name: str | None) -> bool:
    return name is not None and (name in SEARCH_OBJECTS or name.startswith(FTS_TABLE + "_"))


def pg_config_name(language: str | None) -> str:
    """The ``newsingest_*`` configuration for an article language (mirrors the SQL function)."""
    code = (language or "").lower().replace("_", "-").split("-")[0]
    return "newsingest_" + PG_CONFIGS.get(code, "simple")


def pg_all_configs() -> list[str]:
    """Every configuration the index can use, ``newsingest_simple`` first."""
    return ["newsingest_simple", *sorted({"newsingest_" + c for c in PG_CONFIGS.values()})]


def _pg_config_function() -> str:
    cases = "\n".join(
        f"        WHEN '{code}' THEN 'newsingest_{cfg}'::regconfig"
        for code, cfg in sorted(PG_CONFIGS.items())
    )
    return f"""
CREATE OR REPLACE FUNCTION newsingest_ts_config(lang text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE split_part(replace(lower(coalesce(lang, '')), '_', '-'), '-', 1)
{cases}
        ELSE 'newsingest_simple'::regconfig
    END
$$"""


PG_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION newsingest_article_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector(newsingest_ts_config(NEW.language), coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector(newsingest_ts_config(NEW.language), coalesce(NEW.text, '')), 'B');
    RETURN NEW;
END
$$"""


def pg_upgrade_statements() -> list[str]:
    """DDL that adds the index on PostgreSQL and fills it for the rows already stored."""
    stmts = ["CREATE EXTENSION IF NOT EXISTS unaccent"]
    for cfg in ["simple", *sorted(set(PG_CONFIGS.values()))]:
        name = f"newsingest_{cfg}"
        dictionary = "simple" if cfg == "simple" else f"{cfg}_stem"
        stmts += [
            f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name}",
            f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = pg_catalog.{cfg})",
            f"ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR hword, hword_part, "
            f"word WITH unaccent, {dictionary}",
        ]
    stmts += [
        _pg_config_function(),
        PG_TRIGGER_FUNCTION,
        "ALTER TABLE article ADD COLUMN search_vector tsvector",
        # INSERT always; UPDATE only when what the vector is made of changed.
        "CREATE TRIGGER article_search_vector_insert BEFORE INSERT ON article "
        "FOR EACH ROW EXECUTE FUNCTION newsingest_article_search_vector()",
        "CREATE TRIGGER article_search_vector_update BEFORE UPDATE OF title, text, language "
        "ON article FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title "
        "OR OLD.text IS DISTINCT FROM NEW.text OR OLD.language IS DISTINCT FROM NEW.language) "
        "EXECUTE FUNCTION newsingest_article_search_vector()",
        # Rows already stored: the same expression as the trigger's.
        "UPDATE article SET search_vector = "
        "setweight(to_tsvector(newsingest_ts_config(language), coalesce(title, '')), 'A') || "
        "setweight(to_tsvector(newsingest_ts_config(language), coalesce(text, '')), 'B')",
        f"CREATE INDEX {SEARCH_INDEX} ON article USING gin (search_vector)",
        # Text and vector out of line (TOAST) from 256 bytes on: a search reads the heap row
        # of every match for its filters and sort keys, and narrow rows (71 MB instead of
        # 232 MB for 200k articles) made a common word's search 3x faster. Rows stored
        # before this migration move out of line when next updated (or: VACUUM FULL).
        "ALTER TABLE article SET (toast_tuple_target = 256)",
    ]
    return stmts


def pg_downgrade_statements() -> list[str]:
    stmts = [
        "ALTER TABLE article RESET (toast_tuple_target)",
        "DROP TRIGGER IF EXISTS article_search_vector_update ON article",
        "DROP TRIGGER IF EXISTS article_search_vector_insert ON article",
        f"DROP INDEX IF EXISTS {SEARCH_INDEX}",
        "ALTER TABLE article DROP COLUMN IF EXISTS search_vector",
        "DROP FUNCTION IF EXISTS newsingest_article_search_vector()",
        "DROP FUNCTION IF EXISTS newsingest_ts_config(text)",
    ]
    for cfg in ["simple", *sorted(set(PG_CONFIGS.values()))]:
        stmts.append(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS newsingest_{cfg}")
    return stmts


SQLITE_TOKENIZE = "porter unicode61 remove_diacritics 2"

SQLITE_TRIGGERS = {
    "article_fts_insert": """
CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN
    INSERT INTO article_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
    "article_fts_delete": """
CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN
    INSERT INTO article_fts(article_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END""",
    # Only when title or text change: the entity store's status update costs nothing here.
    "article_fts_update": """
CREATE TRIGGER article_fts_update AFTER UPDATE OF title, text ON article
WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
    INSERT INTO article_fts(article_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO article_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END""",
}


def sqlite_upgrade_statements() -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, text, content='article', "
        f"content_rowid='id', tokenize='{SQLITE_TOKENIZE}')",
        *SQLITE_TRIGGERS.values(),
        # Index the rows already stored.
        "INSERT INTO article_fts(article_fts) VALUES ('rebuild')",
    ]


def sqlite_downgrade_statements() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS] + [
        f"DROP TABLE IF EXISTS {FTS_TABLE}"
    ]
