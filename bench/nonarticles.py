"""A labelled set of pages that are not articles, made from the corpus' real pages.

    python -m bench.nonarticles [--limit N]     # writes .cache/nonarticles/, prints a summary

Each corpus page of ``news-pages-trafilatura-eval`` lends its own chrome (head, header,
navigation, menus, sidebars, footer) to one non-article page; the article itself is taken
out (the container of its paragraphs, every block holding one of its annotated snippets or
a line trafilatura extracts from the original page, blocks of ten words or more outside
the chrome; its JSON-LD and ``article:`` metadata) and replaced by what a page of that kind
holds:

``link_list``     a section front, tag page, author page, live-blog index or search results
                  page: 20-60 headline links taken from the page itself (its own links,
                  then headlines made of its sentences), some with a teaser of 1-2 lines
``consent_wall``  a cookie/consent dialog in one of several publishers' styles, page
                  language first (en, de, fr, es, it, nl, pl, pt)
``paywall_stub``  the article's headline and first paragraph, then a subscription box
``error_page``    "page not found" served with status 200, with the site's chrome
``navigation``    the chrome alone: header, menus, footer, a few stray lines

The kind for a page is fixed by a hash of its file name, and so is its half: ``tune``
(thresholds are chosen there) or ``report`` (figures are reported there). The pages are
third-party content: they are written to the git-ignored ``.cache/nonarticles/`` only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lxml.html
from lxml.html import HtmlElement

from bench import nonarticle_templates as templates
from ingest.extract import ExtractOptions, decode_html, extract_article
from ingest.extract.decode import sniff_text
from schemas.errors import NotAnArticle

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "nonarticles"
#: bump when the generator changes: the cached set is rebuilt
VERSION = 8
KINDS = ("link_list", "consent_wall", "paywall_stub", "error_page", "navigation")
# how often each kind is drawn: lists of links are the commonest non-article in feeds
_WEIGHTS = (4, 2, 2, 1, 1)
LINK_LIST_STYLES = ("section", "tag", "author", "liveblog", "search")


@dataclass(frozen=True, slots=True)
class NonArticle:
    name: str  # the corpus file it was made from, plus the kind
    kind: str
    style: str
    half: str  # "tune" or "report"
    url: str
    path: Path

    def html(self) -> bytes:
        return self.path.read_bytes()


def half_of(name: str) -> str:
    """``tune`` or ``report``, fixed by the file name (sha256, not Python's salted hash)."""
    return "tune" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "report"


def _rng(name: str, salt: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{salt}:{name}".encode()).hexdigest())


def kind_of(name: str) -> str:
    return _rng(name, "kind").choices(KINDS, weights=_WEIGHTS)[0]


# --------------------------------------------------------------------------- the page's parts


def _words(text: str) -> list[str]:
    """Words, each CJK character one (as ``count_words`` counts them)."""
    return _CJK.sub(" x ", text).split()


_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _language(tree: HtmlElement) -> str:
    lang = (tree.get("lang") or "").strip().lower()[:2]
    if not lang:
        for meta in tree.iterfind(".//meta[@content]"):
            if (meta.get("property") or "").lower() == "og:locale":
                lang = (meta.get("content") or "").strip().lower()[:2]
                break
    return lang if lang in templates.LANGUAGES else "en"


def _content_root(tree: HtmlElement) -> HtmlElement | None:
    """The element holding the article: the parent of most paragraph text."""
    weight: Counter[HtmlElement] = Counter()
    for p in tree.iter("p"):
        n = len(_words(_text(p)))
        if n >= 8 and p.getparent() is not None:
            weight[p.getparent()] += n
    if not weight:
        return None
    root = weight.most_common(1)[0][0]
    # the article container (<article>, <main>) when the paragraphs sit a little inside it
    node: HtmlElement | None = root
    for _ in range(4):
        if node is None or node.tag in {"body", "html"}:
            break
        if node.tag in {"article", "main"}:
            return node
        node = node.getparent()
    return root


def _headlines(tree: HtmlElement, rng: random.Random, want: int) -> list[str]:
    """Headline-like link texts of the page, then sentences of its paragraphs cut to size."""
    seen: dict[str, None] = {}
    for a in tree.iter("a"):
        text = _text(a)
        if 4 <= len(_words(text)) <= 16 and text.casefold() not in {s.casefold() for s in seen}:
            seen[text] = None
    found = list(seen)
    if len(found) < want:
        for sentence in _sentences(tree):
            words = _words(sentence)
            if len(words) >= 6:
                found.append(" ".join(words[: rng.randint(6, 12)]).rstrip(",;:"))
            if len(found) >= want:
                break
    rng.shuffle(found)
    return found[:want]


def _sentences(tree: HtmlElement) -> list[str]:
    out = []
    for p in tree.iter("p"):
        for sentence in re.split(r"(?<=[.!?])\s+", _text(p)):
            if len(_words(sentence)) >= 6:
                out.append(sentence)
    return out


def _lead(tree: HtmlElement) -> str | None:
    for p in tree.iter("p"):
        text = _text(p)
        if len(_words(text)) >= 15:
            return " ".join(_words(text)[:70])
    return None


def _title(tree: HtmlElement) -> str:
    for tag in ("h1", "title"):
        for element in tree.iter(tag):
            text = _text(element)
            if text:
                return text
    return "News"


def _site_name(tree: HtmlElement, url: str) -> str:
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or "").lower() == "og:site_name":
            return " ".join((meta.get("content") or "").split()) or "News"
    host = re.sub(r"^https?://(www\.)?", "", url).split("/")[0]
    return host or "News"


def _strip_article_metadata(tree: HtmlElement, rng: random.Random) -> None:
    """What marks the page as an article goes: JSON-LD articles, og:type, article:* tags."""
    for script in list(tree.iter("script")):
        if (script.get("type") or "").lower() == "application/ld+json":
            script.drop_tree()
    for meta in list(tree.iterfind(".//meta[@content]")):
        key = (meta.get("property") or meta.get("name") or "").lower()
        if key == "og:type":
            meta.set("content", "website")
        elif key.startswith("article:") or key in {"author", "date", "pubdate"}:
            meta.drop_tree()


def _set_title(tree: HtmlElement, title: str) -> None:
    for element in tree.iter("title"):
        element.text = title
        for child in list(element):
            element.remove(child)
        return
    head = tree.find(".//head")
    if head is not None:
        head.append(lxml.html.fromstring(f"<title>{templates.escape(title)}</title>"))


def _replace_content(tree: HtmlElement, html: str) -> HtmlElement:
    root = _content_root(tree)
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    if root is None or root.getparent() is None:
        body = tree.find(".//body")
        (body if body is not None else tree).append(fragment)
    else:
        root.getparent().replace(root, fragment)
    # whatever prose of the article is left outside that container goes too (blocks of ten
    # words or more of their own text); navigation, header, footer and sidebars stay
    for element in list(tree.iter()):
        if not isinstance(element.tag, str) or element.tag in {"html", "head", "body"}:
            continue
        if element.getparent() is None or _inside(element, fragment) or _in_chrome(element):
            continue
        own = (element.text or "") + " ".join(c.tail or "" for c in element)
        if element.tag not in {"script", "style", "title"} and len(_words(own)) >= 10:
            element.drop_tree()
    return fragment


_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "head"})
_CHROME_TOKENS = frozenset(
    {"nav", "navbar", "navigation", "menu", "footer", "sidebar", "breadcrumb", "widget"}
)


def _in_chrome(element: HtmlElement) -> bool:
    node: HtmlElement | None = element
    while node is not None and node.tag not in {"body", "html"}:
        names = re.split(r"[\s_-]+", f"{node.get('class', '')} {node.get('id', '')}".lower())
        if node.tag in _CHROME_TAGS or _CHROME_TOKENS.intersection(names):
            return True
        node = node.getparent()
    return False


def _inside(element: HtmlElement, ancestor: HtmlElement) -> bool:
    node: HtmlElement | None = element
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


# --------------------------------------------------------------------------- one page


def _drop_snippets(tree: HtmlElement, snippets: Sequence[str]) -> None:
    """Whatever of the article is left outside its container: the smallest element holding
    one of its annotated ``with`` snippets goes."""
    wanted = [" ".join(s.split()) for s in snippets if len(s.split()) >= 2]
    if not wanted:
        return
    body = tree.find(".//body")
    if body is None:
        return
    for element in list(body.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None:
            continue
        text = _text(element)
        if not any(w in text for w in wanted):
            continue
        # the smallest: no child holds a snippet by itself
        if any(isinstance(c.tag, str) and any(w in _text(c) for w in wanted) for c in element):
            continue
        element.drop_tree()


def _extracted_lines(html: bytes, url: str) -> list[str]:
    """The lines trafilatura (with the pipeline's old options) takes for the article."""
    plain = ExtractOptions(
        min_words=0,
        cleaning=(),
        structured_metadata=False,
        detect_not_article=False,
        page_date=False,
    )
    try:
        text = extract_article(html, url=url, options=plain).text
    except NotAnArticle:
        return []
    return [" ".join(line.split()) for line in text.split("\n") if len(line.split()) >= 4]


def _drop_extracted(tree: HtmlElement, lines: Sequence[str], keep: HtmlElement) -> None:
    """Every block whose own text is part of what was extracted as the article goes."""
    if not lines:
        return
    joined = " | ".join(lines)
    for element in list(tree.iter()):
        if not isinstance(element.tag, str) or element.tag in {"html", "head", "body"}:
            continue
        if element.getparent() is None or _inside(element, keep):
            continue
        own = " ".join(
            ((element.text or "") + " " + " ".join(c.tail or "" for c in element)).split()
        )
        if len(own.split()) >= 4 and own in joined:
            element.drop_tree()


def make(name: str, html: bytes, url: str, snippets: Sequence[str] = ()) -> tuple[str, str, bytes]:
    """(kind, style, page) of the non-article made from corpus page ``name`` (``snippets``:
    its annotated article text, removed wherever it is left, like every block of the text
    trafilatura extracts from the page)."""
    extracted = _extracted_lines(html, url)
    kind = kind_of(name)
    rng = _rng(name, "page")
    tree = lxml.html.document_fromstring(sniff_text(decode_html(html)))
    lang = _language(tree)
    title, site = _title(tree), _site_name(tree, url)
    lead = _lead(tree)
    _strip_article_metadata(tree, rng)
    _drop_snippets(tree, snippets)
    if kind == "link_list":
        style = rng.choice(LINK_LIST_STYLES)
        items = _headlines(tree, rng, rng.randint(20, 60))
        sentences = _sentences(tree)
        content, page_title = templates.link_list(style, lang, items, sentences, site, rng)
    elif kind == "consent_wall":
        style, content, page_title = templates.consent(lang, site, rng)
        if rng.random() < 0.5:  # many walls replace the whole body
            body = tree.find(".//body")
            if body is not None:
                for child in list(body):
                    body.remove(child)
    elif kind == "paywall_stub":
        style, content = templates.paywall(lang, title, lead, site, rng)
        page_title = f"{title} | {site}"
    elif kind == "error_page":
        style, content, page_title = templates.error(lang, site, rng)
    else:
        style, content, page_title = "chrome", "", site
    if kind != "paywall_stub" or rng.random() < 0.5:
        _set_title(tree, page_title)
    fragment = _replace_content(tree, content)
    _drop_extracted(tree, extracted, fragment)
    if kind == "navigation":
        _navigation_only(tree)
    out = lxml.html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>")
    return kind, style, out.encode("utf-8")


def _navigation_only(tree: HtmlElement) -> None:
    for p in list(tree.iter("p")):
        if len(_words(_text(p))) >= 8:
            p.drop_tree()


# --------------------------------------------------------------------------- the set


Source = tuple[str, str, bytes, tuple[str, ...]]


def build(pages: Iterable[Source], folder: Path = CACHE) -> list[NonArticle]:
    """Write (or reuse) the non-article made from each ``(name, url, html, snippets)``."""
    manifest_path = folder / "manifest.json"
    manifest: dict[str, dict[str, str]] = {}
    if manifest_path.is_file():
        loaded = json.loads(manifest_path.read_text("utf-8"))
        if loaded.get("version") == VERSION:
            manifest = loaded["pages"]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    changed = False
    for name, url, html, snippets in pages:
        entry = manifest.get(name)
        path = folder / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.html"
        if entry is None or not path.is_file():
            kind, style, page = make(name, html, url, snippets)
            path.write_bytes(page)
            entry = manifest[name] = {"kind": kind, "style": style, "url": url}
            changed = True
        out.append(
            NonArticle(name, entry["kind"], entry["style"], half_of(name), entry["url"], path)
        )
    if changed:
        manifest_path.write_text(json.dumps({"version": VERSION, "pages": manifest}), "utf-8")
    return out


def corpus_pages(eval_dir: Path, limit: int | None = None) -> list[Source]:
    """(file name, URL, bytes, ``with`` snippets) of the annotated corpus pages, sorted by
    file name."""
    data = json.loads((eval_dir / "evaldata.json").read_text("utf-8"))
    pages = []
    for key, item in sorted(data.items(), key=lambda kv: kv[1]["file"]):
        path = eval_dir / "cache" / item["file"]
        if not path.is_file():
            path = eval_dir / "eval" / item["file"]
        url = key if key.startswith(("http://", "https://")) else "https://example.org/page"
        pages.append((item["file"], url, path.read_bytes(), tuple(item["with"])))
    return pages[:limit] if limit else pages


def main(argv: Sequence[str] | None = None) -> int:
    from bench.extract_options import eval_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    made = build(corpus_pages(eval_dir(), args.limit))
    print(Counter((m.kind, m.half) for m in made))
    print(Counter((m.kind, m.style) for m in made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
