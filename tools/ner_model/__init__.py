"""The tooling that builds the bundled NER model ``workers/models/en_newsingest_ner``.

Run from the repository root: ``python -m tools.ner_model.build_default --help``. See
``workers/models/MODEL_CARD.md`` for what it produced.
"""
