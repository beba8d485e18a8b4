"""Article extraction: HTML in, clean text and metadata out, with trafilatura.

Pure: no I/O, no global state, no network. :func:`extract_article` is a module-level
function whose arguments and result (frozen dataclasses, :class:`NotAnArticle`) pickle,
so it can run in a worker process of a ``ProcessPoolExecutor``.

One parse serves everything: the page is parsed once with trafilatura's ``load_html``;
that tree goes to ``bare_extraction(with_metadata=True)`` (which works on its own copy)
and is also read directly for what trafilatura does not report the way we want it
(JSON-LD, the headline, bylines, language, canonical URL, where the date came from, and
whether the page is an article at all).

It raises nothing but :class:`~schemas.errors.NotAnArticle`, whose ``reason`` is one of:

``empty_document``  no bytes, or only whitespace
``not_html``        not an HTML page: a PDF, image or other binary, JSON, plain text, a feed
``too_large``       over :data:`MAX_HTML_CHARS` (the fetcher should have capped it already)
``no_text``         HTML, but trafilatura finds no main text in it
``too_short``       the main text has fewer than ``ExtractOptions.min_words`` words
``link_list``, ``consent_wall``, ``paywall_stub``, ``error_page``, ``navigation``
                    the page is not an article (:mod:`.notarticle`)
``parse_error``     lxml, trafilatura or htmldate failed on the input (wrapped, never leaked)

Modules: :mod:`.core` (the extraction), :mod:`.decode` (bytes to text, sniffing),
:mod:`.notarticle` (pages that are not articles), :mod:`.clean` (boilerplate lines
trafilatura keeps), :mod:`.jsonld`, :mod:`.title`, :mod:`.byline`, :mod:`.dates` and
:mod:`.metadata` (what the page says about itself), :mod:`.words`. Importers use the names
re-exported here.
"""

from ingest.extract.core import (
    DEFAULT_OPTIONS,
    MAX_HTML_CHARS,
    ExtractedArticle,
    ExtractOptions,
    count_words,
    extract_article,
    text_hash,
)

# tests replace this name to count htmldate searches (see dates._trafilatura_find_date)
from ingest.extract.dates import HTMLDATE_FIND_DATE as _htmldate_find_date  # noqa: F401
from ingest.extract.decode import decode_html

__all__ = [
    "DEFAULT_OPTIONS",
    "MAX_HTML_CHARS",
    "ExtractOptions",
    "ExtractedArticle",
    "count_words",
    "decode_html",
    "extract_article",
    "text_hash",
]
