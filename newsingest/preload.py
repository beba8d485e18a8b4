"""The composition root's forkserver preload (``newsingest.wiring.PRELOAD``).

On top of the ingest side's warm-up (:mod:`ingest.preload`): the console script's own modules,
which multiprocessing re-imports in every child as ``__mp_main__``; language detection, and in
in-process mode the spaCy pipeline (``NEWSINGEST__PRELOAD_MODEL``), since those processes run
the entity stage too. Loaded once here, every pool process shares the model instead of loading
its own.
"""

from __future__ import annotations

import logging
import os

import ingest.preload  # noqa: F401  (warms the extraction stack on import)
import newsingest.cli  # noqa: F401
from ingest.pool import PRELOAD_MODEL_ENV
from workers.nlp import get_pipeline, tune_allocator, warm_language_detection

WARM_TEXT = "Officials in Dover said on Tuesday that the harbour would reopen to ferries."


def warm() -> None:
    warm_language_detection()
    model = os.environ.get(PRELOAD_MODEL_ENV)
    if not model:
        return
    tune_allocator()  # inherited by every pool process, which runs NER here
    try:  # the pool loads it itself on first use, with a clear error, if this fails
        get_pipeline(model).entities([WARM_TEXT])
    except Exception as exc:
        logging.getLogger(__name__).warning("could not preload model %s: %s", model, exc)


warm()
