"""Imported once by the forkserver before it forks extraction processes (``ingest.poll``).

Every process of the extraction pool is forked from the forkserver, so what is imported and
warmed here is paid once per pool, not once per process. The expensive part is dateparser's
locale data, which htmldate pulls in on the first page without a machine-readable date: about
1-3 s of CPU per process (profiled on the corpus pages), repeated whenever a pool is replaced.
"""

from __future__ import annotations

import logging


def warm() -> None:
    """Import the extraction stack and load dateparser's locale tables."""
    import trafilatura  # noqa: F401
    from htmldate.extractors import get_external_parser

    import ingest.extract  # noqa: F401

    logging.getLogger("dateparser").setLevel(logging.ERROR)
    # A string no locale parses makes dateparser load and test every locale once.
    get_external_parser().get_date_data("newsingest 12 warm-up")


warm()
