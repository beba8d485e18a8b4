"""Imported once by the forkserver before it forks extraction processes (``ingest.poll``).

Every process of the extraction pool is forked from the forkserver, so what is imported and
warmed here is paid once per pool, not once per process. Profiled costs this removes from
each pool process (bench row 2, py-spy): importing the modules a task needs (ingest.poll and,
because multiprocessing re-runs the parent's main script in the child, ingest.cli with typer
and rich); dateparser's locale tables, which htmldate pulls in on the first page without a
machine-readable date (1-3 s of CPU); the public-suffix list courlan loads on the first URL;
and trafilatura's first pass through its fallback extractors. In in-process mode the spaCy
pipeline too (``NEWSINGEST__PRELOAD_MODEL``, set by :func:`ingest.poll.forkserver_context`):
loaded once here, every pool process shares it instead of loading its own (~1 s each).
"""

from __future__ import annotations

import logging
import os

SAMPLE_URL = "https://news.example.com/2025/11/harbour/story.html"


WARM_TEXT = "Officials in Dover said on Tuesday that the harbour would reopen to ferries."


def sample_page() -> str:
    """A page with no machine-readable date and enough text for every extractor."""
    paragraph = (
        "The harbour authority said on Tuesday that the new tidal barrier had been tested "
        "against a spring tide, and that the quay would reopen to ferries next week after "
        "six years of work, according to officials who spoke at the town hall."
    )
    body = "".join(f"<p>{paragraph} ({i})</p>" for i in range(8))
    return (
        "<html><head><title>Harbour barrier passes its first test</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<div class='story'><h1>Harbour barrier passes its first test</h1>{body}</div>"
        "<footer>Contact us. All rights reserved.</footer></body></html>"
    )


def warm() -> None:
    """Import what extraction tasks need and run one extraction (errors are not fatal)."""
    logging.getLogger("dateparser").setLevel(logging.ERROR)
    from htmldate.extractors import get_external_parser

    # The console script's own module: re-imported in every child as __mp_main__.
    import ingest.cli
    import ingest.poll

    # In-process mode runs the entity stage in these processes too (py3langid, no spaCy).
    from workers.nlp import warm_language_detection

    warm_language_detection()
    # A string no locale parses makes dateparser load and test every locale once.
    get_external_parser().get_date_data("newsingest 12 warm-up")
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        ingest.poll.extract_page(sample_page().encode(), "utf-8", SAMPLE_URL)
    except Exception as exc:  # warming up only; real pages report their own errors
        logging.getLogger(__name__).debug("warm-up extraction failed: %s", exc)
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    model = os.environ.get(ingest.poll.PRELOAD_MODEL_ENV)
    if model:
        from workers.nlp import get_pipeline, tune_allocator

        tune_allocator()  # inherited by every pool process, which runs NER here

        try:  # the pool loads it itself on first use, with a clear error, if this fails
            get_pipeline(model).entities([WARM_TEXT])
        except Exception as exc:
            logging.getLogger(__name__).warning("could not preload model %s: %s", model, exc)


warm()
