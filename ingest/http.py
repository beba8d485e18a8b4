"""The one HTTP client factory and the bounded GET every download goes through.

- Timeouts for connect, read and the whole response; caps on the body after decompression.
- Redirects are followed here, not by httpx, so each hop is counted, loops are caught and
  every hop passes the address guard.
- The address guard lives in the connection layer: the host is resolved once, each address is
  checked, and the socket is opened to the address that was checked, so a DNS answer cannot
  change between check and connect. Loopback, private, link-local (169.254.169.254 included),
  multicast, reserved and other non-global addresses are refused unless a network in
  ``NEWSINGEST_ALLOWED_NETWORKS`` contains them.

Failures are the project's errors (``schemas.errors``): FetchTransient (timeouts, resets,
5xx, 429 with its Retry-After), FetchRefused (4xx, guard, redirect loops, wrong content
type) and ContentTooLarge.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from importlib import import_module
from typing import Any

import httpcore
import httpx

from schemas.errors import ContentTooLarge, FetchRefused, FetchTransient
from schemas.settings import Network, Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_RETRY_AFTER = 24 * 3600.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(FetchRefused):
    reason = "address_refused"


def address_allowed(ip: IPAddress, allowed: Sequence[Network] = ()) -> bool:
    """True if ``ip`` may be fetched: a global unicast address, or inside an allowed network."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed if net.version == ip.version):
        return True
    return ip.is_global and not ip.is_multicast


def check_addresses(host: str, addresses: Iterable[str], allowed: Sequence[Network]) -> str:
    """The first allowed address of ``host``; AddressRefused naming it if none is."""
    refused = []
    for raw in addresses:
        ip = ipaddress.ip_address(raw.split("%", 1)[0])
        if address_allowed(ip, allowed):
            return str(ip)
        refused.append(str(ip))
    raise AddressRefused(f"{host} resolves to {', '.join(refused) or 'nothing'}: not allowed")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves, checks, then connects to the checked address."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self.allowed = tuple(allowed)
        self.inner = httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        return [str(info[4][0]) for info in infos]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = check_addresses(host, await self.resolve(host, port), self.allowed)
        return await self.inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never used
        raise AddressRefused("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(
    settings: Settings, max_connections: int, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncHTTPTransport:
    """One connection pool whose network backend is the address guard."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = httpx.AsyncHTTPTransport(
        verify=ssl_context if ssl_context is not None else True, limits=limits, retries=0
    )
    # httpx has no public hook for the network backend; the pool's attribute is pinned by
    # tests/test_http_guard.py so an httpx upgrade that moves it fails loudly, not open.
    pool = transport._pool
    assert hasattr(pool, "_network_backend")
    pool._network_backend = GuardedBackend(settings.allowed_networks)
    return transport


class PerHostTransport(httpx.AsyncBaseTransport):
    """A small guarded connection pool per origin instead of one big pool.

    httpcore's pool re-scans every queued request against every connection on each request
    event, which is quadratic in the pool size, so a poll over many hosts becomes CPU-bound in
    that scan. Per-origin pools keep each scan to a few connections.
    Politeness (how many requests a host gets at once) is the HostLimiter's job, not this.
    """

    def __init__(self, settings: Settings, per_origin: int) -> None:
        self.settings = settings
        self.per_origin = per_origin
        self.pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        # One TLS context for every pool: making one loads the CA store (about a millisecond
        # of CPU per new origin otherwise).
        self.ssl_context = httpx.create_ssl_context()

    def pool_for(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        key = (url.raw_scheme, url.raw_host, url.port)
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = guarded_transport(
                self.settings, self.per_origin, self.ssl_context
            )
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.pool_for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            await pool.aclose()


def warm_up() -> None:
    """Import what the first request would: httpcore loads anyio's asyncio backend on first
    use (about 0.1 s of CPU, most of it anyio building its lazy attribute map). A
    long-running service calls this before its first poll, as it warms its extraction pool."""
    import_module("anyio._backends._asyncio")


def make_client(settings: Settings, *, max_connections: int | None = None) -> httpx.AsyncClient:
    """The AsyncClient every fetch uses: timeouts, limits, user agent, address guard.

    ``max_connections`` bounds the connections kept per origin (default: enough for the
    per-host limit, at least 4).
    """
    per_origin = max_connections or max(4, settings.per_host_concurrency)
    return httpx.AsyncClient(
        transport=PerHostTransport(settings, per_origin),
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.total_timeout,
        ),
        headers={"User-Agent": settings.full_user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        header: str = self.headers.get("content-type", "")
        for part in header.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"' ")
        return None


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


def looks_like_html(prefix: bytes) -> bool:
    head = prefix[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


async def get(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    total_timeout: float,
    max_redirects: int,
    html_only: bool = False,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Response:
    """GET ``url`` within every bound; see the module docstring for what it raises."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(total_timeout):
            return await _get(
                client,
                url,
                max_bytes=max_bytes,
                max_redirects=max_redirects,
                html_only=html_only,
                etag=etag,
                last_modified=last_modified,
                started=started,
            )
    except TimeoutError:
        raise FetchTransient(
            f"no complete response within {total_timeout:g}s", reason="timeout"
        ) from None


async def _get(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    max_redirects: int,
    html_only: bool,
    etag: str | None,
    last_modified: str | None,
    started: float,
) -> Response:
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if html_only:
        headers["Accept"] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
    seen = {url}
    current = url
    for _hop in range(max_redirects + 1):
        try:
            async with client.stream("GET", current, headers=headers) as resp:
                if resp.status_code in REDIRECTS:
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchRefused("redirect without Location", reason="bad_redirect")
                    nxt = str(resp.url.join(location))
                    if not nxt.startswith(("http://", "https://")):
                        raise FetchRefused(f"redirect to {nxt[:100]}", reason="bad_redirect")
                    if nxt in seen:
                        raise FetchRefused(f"redirect loop at {nxt}", reason="redirect_loop")
                    seen.add(nxt)
                    current = nxt
                    continue
                _raise_for_status(resp)
                if resp.status_code == 304:
                    return Response(
                        url, current, 304, resp.headers, b"", time.monotonic() - started
                    )
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ContentTooLarge(
                        f"Content-Length {declared} over the cap of {max_bytes}", reason="too_large"
                    )
                ctype = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if html_only and ctype and ctype not in HTML_TYPES:
                    raise FetchRefused(f"content type {ctype!r} is not HTML", reason="not_html")
                body = await _read_capped(resp, max_bytes)
                if html_only and not ctype and not looks_like_html(body):
                    raise FetchRefused("no content type and not HTML", reason="not_html")
                return Response(
                    url, current, resp.status_code, resp.headers, body, time.monotonic() - started
                )
        except httpx.DecodingError as exc:
            raise FetchRefused(f"undecodable body: {exc}", reason="bad_encoding") from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, AddressRefused):
                raise cause from None
            reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
            raise FetchTransient(f"{type(exc).__name__}: {exc}", reason=reason) from None
        except httpx.InvalidURL as exc:
            raise FetchRefused(f"invalid URL: {exc}", reason="invalid_url") from None
    raise FetchRefused(f"more than {max_redirects} redirects", reason="too_many_redirects")


async def _read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > max_bytes or resp.num_bytes_downloaded > max_bytes:
            raise ContentTooLarge(f"body over the cap of {max_bytes} bytes", reason="too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _raise_for_status(resp: httpx.Response) -> None:
    status = resp.status_code
    if status < 400:
        return
    if status == 429 or status == 408 or status >= 500:
        raise FetchTransient(
            f"HTTP {status}",
            reason=f"http_{status}",
            retry_after=retry_after_seconds(resp.headers.get("retry-after")),
        )
    raise FetchRefused(f"HTTP {status}", reason=f"http_{status}")
