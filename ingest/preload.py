"""Imported once by the extraction pool's forkserver (``ingest.pool``) before it forks.

What is imported and warmed here is paid once per pool, not once per process: the modules a
task needs, dateparser's locale tables (htmldate loads them on the first page without a
machine-readable date, 1-3 s of CPU), the public-suffix list courlan loads on the first URL,
and trafilatura's first pass through its fallback extractors.
"""

from __future__ import annotations

import logging

SAMPLE_URL = "https://news.example.com/2025/11/harbour/story.html"


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

    import ingest.poll
    import ingest.pool

    # A string no locale parses makes dateparser load and test every locale once.
    get_external_parser().get_date_data("newsingest 12 warm-up")
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        ingest.pool.extract_page(sample_page().encode(), "utf-8", SAMPLE_URL)
    except Exception as exc:  # warming up only; real pages report their own errors
        logging.getLogger(__name__).debug("warm-up extraction failed: %s", exc)
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.NOTSET)


warm()
