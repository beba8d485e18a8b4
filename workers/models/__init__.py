"""The project's default NER pipeline (``en_newsingest_ner/``) and the script that builds it.

See ``MODEL_CARD.md``; rebuild with ``python -m workers.models.build_default``.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_NER_MODEL = Path(__file__).resolve().parent / "en_newsingest_ner"
