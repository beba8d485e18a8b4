"""Pure URL normalisation and the URL hash, the idempotency key of an article.

Two links to the same article must normalise to the same string:

- scheme and host lower-cased, the host IDNA-encoded and stripped of a trailing dot;
- default ports (80 for http, 443 for https) and user info dropped;
- the path's dot segments resolved, an empty path made ``/``, percent-escapes made
  upper-case, unreserved characters decoded and everything else outside the allowed
  set encoded as UTF-8;
- tracking parameters (``utm_*``, ``fbclid``, ``gclid`` and the others in
  :data:`TRACKING_PARAMS`) removed, the remaining query sorted;
- the fragment dropped.

``normalize_url(normalize_url(u)) == normalize_url(u)`` for every accepted ``u``
(a property test pins this). courlan (already installed with trafilatura) keeps
fragments and dot segments, so it is not used here.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from schemas.errors import PermanentError

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "vero_id",
        "wickedid",
        "ref_src",
        "ref_url",
        "cmpid",
        "ocid",
        "smid",
        "at_medium",
        "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_custom")

DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/%:@!$&'()*+,;=~"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_URL_LENGTH = 4096


class InvalidUrl(PermanentError):
    """Not an absolute http(s) URL we can fetch."""

    reason = "invalid_url"


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _normalize_escapes(text: str) -> str:
    """Upper-case escapes, decode escaped unreserved characters, encode the rest."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    text = _LONE_PERCENT.sub("%25", text)
    text = _ESCAPE.sub(fix, text)
    return quote(text, safe=_PATH_SAFE)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    result = "/".join(output)
    if path.endswith(("/.", "/..")):
        result += "/"
    if not result.startswith("/"):
        result = "/" + result
    return result


def _host(hostname: str) -> str:
    host = hostname.strip().rstrip(".").lower()
    if not host:
        raise InvalidUrl("URL has no host")
    if ":" in host:  # IPv6 literal
        return f"[{host}]"
    if host.isascii():
        if not re.fullmatch(r"[a-z0-9._~!$&'()*+,;=%-]+", host):
            raise InvalidUrl(f"invalid host {hostname!r}")
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidUrl(f"invalid international host {hostname!r}") from exc


def normalize_url(url: str, *, base: str | None = None) -> str:
    """The canonical form of an absolute http(s) URL (see the module docstring).

    ``base`` resolves a relative link first. Raises :class:`InvalidUrl`.
    """
    if not isinstance(url, str):
        raise InvalidUrl("URL must be a string")
    url = url.strip()
    if base is not None:
        from urllib.parse import urljoin

        url = urljoin(base, url)
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidUrl("URL is empty or too long")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidUrl("URL contains control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:
        raise InvalidUrl(f"unparseable URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidUrl(f"unsupported scheme {scheme or '(none)'!r}; only http and https")
    if not hostname:
        raise InvalidUrl("URL has no host")
    netloc = _host(hostname)
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _remove_dot_segments(_normalize_escapes(parts.path or "/"))
    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True, errors="replace")
        if not _is_tracking(key)
    ]
    query = urlencode(sorted(pairs), quote_via=quote, safe="~")
    return urlunsplit((scheme, netloc, path, query, ""))


def url_hash(url: str) -> str:
    """SHA-256 hex digest of the normalised URL: the idempotency key of an article."""
    return hashlib.sha256(normalize_url(url).encode("utf-8")).hexdigest()


def host_of(url: str) -> str:
    """The lower-cased host (with a non-default port) of a URL, for per-host limits."""
    return urlsplit(normalize_url(url)).netloc
