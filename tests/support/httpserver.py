"""A real HTTP/1.1 origin on loopback for integration tests and benchmarks.

Standard library only: ``http.server.ThreadingHTTPServer`` with keep-alive, one daemon thread
per connection, served from a background thread of the test process (``LoopbackServer``,
``LoopbackCluster``, both ``LoopbackService``) or from a subprocess
(``python -m tests.support.httpserver``).

Routes can misbehave on purpose: slow status line (``delay``), slow body (``trickle``), a body
that never ends (``endless``), an abrupt connection reset (``reset``), exact raw bytes
(``raw``), gzip bombs (``gzip_bomb``).  Every request is recorded (``requests``) and the
number of requests in progress at once is tracked overall, per ``Host`` header and per
listening address (``max_concurrency``).

Only loopback addresses are accepted: nothing here ever listens on, or talks to, anything
outside 127.0.0.0/8 (or ``::1``).

Subprocess mode::

    python -m tests.support.httpserver --host 127.0.0.1 --port 0 --routes-dir DIR [--delay 0.1]
    python -m tests.support.httpserver --hosts 127.0.0.2,127.0.0.3 --port 0 --routes-dir DIR

serves every file of DIR at ``/<relative path>`` and prints ``READY http://HOST:PORT`` (one
line per address) once listening; SIGTERM or SIGINT stops it cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import functools
import gzip as gzip_module
import http.server
import itertools
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import pytest

from tests.support.loopback import LoopbackService, authority, check_loopback

__all__ = [
    "LoopbackCluster",
    "LoopbackServer",
    "Recorded",
    "RouteHandler",
    "content_type_for",
    "http_cluster",
    "http_server",
]

STREAM_BLOCK = 64 * 1024  # bytes per chunk of an endless body
JOIN_TIMEOUT = 5.0  # seconds stop() waits for connection threads in total


@dataclass
class Recorded:
    """One request as the server saw it.

    ``headers`` has lower-cased names (repeated headers joined with ``", "``); ``started`` and
    ``finished`` are ``time.monotonic()`` values: from the parsed request head to the moment
    the last bytes of the response were handed to the socket (``finished`` is set *before*
    that final write, so a client holding the complete response always sees a complete
    record).  ``finished`` is 0.0 while the request is still in progress.
    """

    method: str
    path: str  # request target as sent: path plus query string
    host: str  # Host header ("" when absent)
    headers: dict[str, str]
    started: float
    finished: float
    server_address: str  # the loopback IP that accepted the connection
    client: str = ""  # "ip:port" of the client side of the connection (same value = keep-alive)
    body: bytes = b""  # request body (Content-Length or chunked)
    status: int = 0  # status sent; 0 when none was (reset, stopped while delaying)

    @property
    def duration(self) -> float:
        return self.finished - self.started if self.finished else 0.0


RouteHandler = Callable[[Recorded], tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class _Route:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    payload: bytes = b""  # the body as sent (already gzip-compressed when gzip=True)
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    endless: bool = False
    trickle: float | None = None
    trickle_size: int = 1
    redirect_to: str | None = None
    reset: bool = False
    raw: bytes | None = None
    handler: RouteHandler | None = None


_NOT_FOUND = _Route(
    status=404,
    headers=(("Content-Type", "text/plain; charset=utf-8"),),
    payload=b"not found\n",
)


@functools.cache
def _gzip_zeros(size: int, block_size: int = 1 << 20) -> bytes:
    """A gzip member whose content is ``size`` zero bytes, built in well under a second for 1 GB.

    Compressing 1 GB through zlib takes seconds, so one block of zeros is compressed once with
    Z_FULL_FLUSH (byte-aligned, dictionary reset: every later block would compress to the very
    same bytes) and that segment is repeated; a separate final deflate stream carries the
    remainder and the BFINAL bit.  Only the CRC-32 walks the whole size.
    """
    block = bytes(block_size)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, remainder = divmod(size, block_size)
    final = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = final.compress(bytes(remainder)) + final.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(bytes(remainder), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"  # deflate, mtime 0, max compression, Unix
    return header + segment * count + tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


# --- routes ---------------------------------------------------------------------------------

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/feed+json",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
}


def content_type_for(path: Path, head: bytes) -> str:
    """The Content-Type a static file is served with: by extension, ``.xml`` sniffed from
    its first bytes (RSS, Atom or plain XML)."""
    suffix = path.suffix.lower()
    if suffix == ".xml":
        if b"<rss" in head:
            return "application/rss+xml"
        if b"<feed" in head:
            return "application/atom+xml"
        return "application/xml"
    return _CONTENT_TYPES.get(suffix, "application/octet-stream")


@dataclass(frozen=True)
class _StaticDir:
    root: Path
    prefix: str
    delay: float

    def route(self, path: str) -> _Route | None:
        if not path.startswith(self.prefix):
            return None
        relative = unquote(path[len(self.prefix) :]).lstrip("/")
        if not relative:
            return None
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        try:
            data = target.read_bytes()
            stat = target.stat()
        except OSError:
            return None
        return _Route(
            headers=(("Content-Type", content_type_for(target, data[:512])),),
            payload=data,
            delay=self.delay,
            etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True),
        )


class _RouteTable:
    """Thread-safe: routes may change while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self._dirs: list[_StaticDir] = []

    def set(self, path: str, route: _Route) -> None:
        with self._lock:
            self._routes[path] = route

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def clear(self) -> None:
        with self._lock:
            self._routes.clear()
            self._dirs.clear()

    def add_dir(self, static: _StaticDir) -> None:
        with self._lock:
            self._dirs.append(static)

    def lookup(self, target: str) -> _Route | None:
        path = target.split("?", 1)[0]
        with self._lock:
            route = self._routes.get(target) or self._routes.get(path)
            dirs = list(self._dirs)
        if route is not None:
            return route
        for static in dirs:
            route = static.route(path)
            if route is not None:
                return route
        return None


class _RoutesMixin:
    _routes: _RouteTable

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        etag: str | None = None,
        last_modified: str | None = None,
        gzip: bool = False,
        endless: bool = False,
        trickle: float | None = None,
        trickle_size: int = 1,
        redirect_to: str | None = None,
        reset: bool = False,
        raw: bytes | None = None,
        handler: RouteHandler | None = None,
    ) -> None:
        """Serve ``path`` (matched with its query string first, then without it).

        ``delay``: seconds before the status line.  ``etag`` / ``last_modified``: sent, and
        a matching ``If-None-Match`` / ``If-Modified-Since`` gets 304 without a body.
        ``gzip``: the body is sent gzip-compressed.  ``endless``: chunked body (``body``
        repeated, or filler) until the client goes away or the server stops.  ``trickle``:
        the body goes out ``trickle_size`` bytes at a time, ``trickle`` seconds apart.
        ``redirect_to``: ``Location`` with ``status`` 301/302/303/307/308 (200 means 302).
        ``reset``: the connection is closed with an RST and no response.  ``raw``: these exact
        bytes are the whole response, then the connection closes.  ``handler``: called with
        the ``Recorded`` request, returns ``(status, headers, body)``.
        """
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        if trickle is not None and trickle < 0:
            raise ValueError("trickle must be >= 0 seconds")
        if trickle_size < 1:
            raise ValueError("trickle_size must be >= 1 byte")
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        header_items = list((headers or {}).items())
        names = {name.lower() for name, _ in header_items}
        if content_type is not None and "content-type" not in names:
            header_items.insert(0, ("Content-Type", content_type))
        if redirect_to is not None:
            if status == 200:
                status = 302
            if "location" not in names:
                header_items.append(("Location", redirect_to))
        if gzip:
            if not endless:
                data = gzip_module.compress(data, mtime=0)
            if "content-encoding" not in names:
                header_items.append(("Content-Encoding", "gzip"))
        route = _Route(
            status=status,
            headers=tuple(header_items),
            payload=data,
            delay=delay,
            etag=etag,
            last_modified=last_modified,
            gzip=gzip,
            endless=endless,
            trickle=trickle,
            trickle_size=trickle_size,
            redirect_to=redirect_to,
            reset=reset,
            raw=raw,
            handler=handler,
        )
        self._routes.set(path, route)

    def gzip_bomb(
        self,
        path: str,
        decompressed_size: int = 1_000_000_000,
        *,
        content_type: str | None = "text/html; charset=utf-8",
    ) -> None:
        """Serve a gzip body of ``decompressed_size`` zero bytes (``Content-Encoding: gzip``).

        The compressed body (about 1 MB per GB) is built once per size and cached.
        """
        headers = {"Content-Encoding": "gzip"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        self._routes.set(
            path, _Route(headers=tuple(headers.items()), payload=_gzip_zeros(decompressed_size))
        )

    def serve_dir(
        self, directory: str | os.PathLike[str], *, prefix: str = "/", delay: float = 0.0
    ) -> None:
        """Serve every file below ``directory`` at ``prefix + relative path`` (read per request).

        Content-Type by extension (.xml sniffed: RSS, Atom or plain XML); ETag and
        Last-Modified from the file's stat, so conditional GETs work.  Explicit routes win.
        """
        root = Path(directory).resolve()
        if not root.is_dir():
            raise NotADirectoryError(str(root))
        self._routes.add_dir(
            _StaticDir(root, prefix if prefix.endswith("/") else prefix + "/", delay)
        )

    def remove(self, path: str) -> None:
        self._routes.remove(path)

    def clear_routes(self) -> None:
        self._routes.clear()


# --- statistics -----------------------------------------------------------------------------

_Key = str | None  # None: every request


class _Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._active: Counter[_Key] = Counter()
        self._peak: Counter[_Key] = Counter()

    @staticmethod
    def keys(record: Recorded) -> frozenset[_Key]:
        try:
            bare_host = urlsplit(f"//{record.host}").hostname or record.host
        except ValueError:
            bare_host = record.host
        return frozenset({None, record.host, bare_host, record.server_address})

    def begin(self, record: Recorded, keys: frozenset[_Key]) -> None:
        with self._lock:
            self.requests.append(record)
            for key in keys:
                self._active[key] += 1
                self._peak[key] = max(self._peak[key], self._active[key])

    def end(self, keys: frozenset[_Key]) -> None:
        with self._lock:
            for key in keys:
                self._active[key] -= 1

    def snapshot(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def peak(self, host: str | None) -> int:
        with self._lock:
            return self._peak[host]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._peak = Counter({key: count for key, count in self._active.items() if count})


class _StatsMixin:
    _stats: _Stats

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of every request seen since start (or the last ``reset_stats``)."""
        return self._stats.snapshot()

    def requests_for(self, path: str) -> list[Recorded]:
        """Requests for ``path``: an exact target when ``path`` has a query, else any query."""
        if "?" in path:
            return [r for r in self.requests if r.path == path]
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def max_concurrency(self, host: str | None = None) -> int:
        """Most requests in progress at once: overall, or for one ``Host`` header value
        (with or without the port) or one listening address."""
        return self._stats.peak(host)

    def reset_stats(self) -> None:
        self._stats.reset()


# --- the server -----------------------------------------------------------------------------


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: LoopbackServer) -> None:
        self.owner = owner
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang
        # for seconds without a network; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"loopback-http {self.server_name}:{self.server_port} <- {client_address[1]}",
            daemon=True,
        )
        self.owner._connection_opened(request, thread)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._connection_closed(request, threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        if self.owner._take_abort(request):
            self.close_request(request)  # SO_LINGER 0 is set: close() sends RST, no FIN
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.owner.errors.append(error)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "newsingest-loopback/1.0"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default one-line-per-request log on stderr."""

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # client went away, or stop() shut the socket
            super().handle()

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # -- request -----------------------------------------------------------------------------

    def _target(self) -> str:
        if self.path.startswith(("http://", "https://")):  # absolute-form (proxy style)
            parts = urlsplit(self.path)
            return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self.path

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        owner = self.server.owner
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        client = self.client_address
        record = Recorded(
            method=self.command,
            path=self._target(),
            host=self.headers.get("Host", ""),
            headers=headers,
            started=time.monotonic(),
            finished=0.0,
            server_address=str(self.server.server_address[0]),
            client=authority(str(client[0]), int(client[1])),
        )
        self._record = record
        self._keys = _Stats.keys(record)
        self._sinks = owner._sinks
        self._done_flag = False
        for stats in self._sinks:
            stats.begin(record, self._keys)
        try:
            try:
                record.body = self._read_body()
            except ValueError:  # unparsable Content-Length or chunk size
                self.close_connection = True
                self._send(record, 400, [("Content-Type", "text/plain")], b"bad request body\n")
                return
            self._respond(owner, record)
        finally:
            self._done()

    def _done(self) -> None:
        """Mark the request finished (before its final write); idempotent."""
        if self._done_flag:
            return
        self._done_flag = True
        self._record.finished = time.monotonic()
        for stats in self._sinks:
            stats.end(self._keys)

    # -- response ----------------------------------------------------------------------------

    def _respond(self, owner: LoopbackServer, record: Recorded) -> None:
        route = owner._routes.lookup(record.path) or _NOT_FOUND
        if route.delay > 0 and owner._stopping.wait(route.delay):
            self.close_connection = True  # stopping: give up without a response
            return
        if route.reset:
            self._abort(owner)
            return
        if route.raw is not None:
            self.close_connection = True
            self._done()
            self.wfile.write(route.raw)
            return
        if route.handler is not None:
            self._respond_dynamic(owner, record, route.handler)
            return
        headers = list(route.headers)
        validators = []
        if route.etag is not None:
            validators.append(("ETag", route.etag))
        if route.last_modified is not None:
            validators.append(("Last-Modified", route.last_modified))
        if validators and self._not_modified(record, route):
            self._send(record, 304, validators, b"")
            return
        headers += validators
        if route.endless:
            self._send_endless(owner, record, route, headers)
        elif route.trickle is not None:
            self._send_trickle(owner, record, route, headers)
        else:
            self._send(record, route.status, headers, route.payload)

    @staticmethod
    def _not_modified(record: Recorded, route: _Route) -> bool:
        if_none_match = record.headers.get("if-none-match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110)
            if route.etag is None:
                return False
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or route.etag.removeprefix("W/") in tags
        if_modified_since = record.headers.get("if-modified-since")
        if if_modified_since is None or route.last_modified is None:
            return False
        if if_modified_since.strip() == route.last_modified.strip():
            return True
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
            modified = email.utils.parsedate_to_datetime(route.last_modified)
            return since >= modified
        except (TypeError, ValueError):
            return False

    def _respond_dynamic(
        self, owner: LoopbackServer, record: Recorded, handler: RouteHandler
    ) -> None:
        try:
            status, headers, body = handler(record)
        except Exception as exc:
            owner.errors.append(exc)
            text = "".join(traceback.format_exception(exc))
            status, headers, body = (
                500,
                {"Content-Type": "text/plain; charset=utf-8"},
                text.encode(),
            )
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._send(record, status, list(headers.items()), payload)

    def _abort(self, owner: LoopbackServer) -> None:
        """Reset the connection: SO_LINGER 0 makes close() send RST instead of FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        owner._mark_abort(self.connection)

    def _head(self, status: int, headers: Iterable[tuple[str, str]]) -> bytes:
        items = list(headers)
        names = {name.lower() for name, _ in items}
        if any(k.lower() == "connection" and "close" in v.lower() for k, v in items):
            self.close_connection = True
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}"]
        if "server" not in names:
            lines.append(f"Server: {self.server_version}")
        if "date" not in names:
            lines.append(f"Date: {self.date_time_string()}")
        lines += [f"{name}: {value}" for name, value in items]
        if self.close_connection and "connection" not in names:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(
        self, record: Recorded, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        bodiless = status < 200 or status in (204, 304)
        if bodiless:
            body = b""
        elif not any(name.lower() == "content-length" for name, _ in headers):
            headers = [*headers, ("Content-Length", str(len(body)))]
        data = self._head(status, headers)
        if self.command != "HEAD":
            data += body
        record.status = status
        self._done()
        self.wfile.write(data)

    def _send_trickle(
        self, owner: LoopbackServer, record: Recorded, route: _Route, headers: list[tuple[str, str]]
    ) -> None:
        payload = route.payload
        headers = [*headers, ("Content-Length", str(len(payload)))]
        record.status = route.status
        head = self._head(route.status, headers)
        if self.command == "HEAD" or not payload:
            self._done()
            self.wfile.write(head)
            return
        self.wfile.write(head)
        pieces = [
            payload[i : i + route.trickle_size] for i in range(0, len(payload), route.trickle_size)
        ]
        for index, piece in enumerate(pieces):
            if index and owner._stopping.wait(route.trickle or 0.0):
                self.close_connection = True
                return
            if index == len(pieces) - 1:
                self._done()
            self.wfile.write(piece)

    def _send_endless(
        self, owner: LoopbackServer, record: Recorded, route: _Route, headers: list[tuple[str, str]]
    ) -> None:
        """Chunked body until the client goes away (a write fails) or the server stops."""
        record.status = route.status
        self.close_connection = True  # the body never ends: the connection cannot be reused
        self.wfile.write(self._head(route.status, [*headers, ("Transfer-Encoding", "chunked")]))
        if self.command == "HEAD":
            return
        unit = route.payload or b"<p>and it goes on and on</p>\n"
        block = unit * max(1, STREAM_BLOCK // len(unit))
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if route.gzip else None
        while not owner._stopping.is_set():
            data = block
            if compressor is not None:
                data = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))  # OSError once the peer is gone


class LoopbackServer(_RoutesMixin, _StatsMixin, LoopbackService):
    """An HTTP/1.1 server on one loopback address, run from a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        routes: _RouteTable | None = None,
        extra_stats: Sequence[_Stats] = (),
    ) -> None:
        check_loopback(host)
        self.host = host
        self._requested_port = port
        self._routes = routes if routes is not None else _RouteTable()
        self._stats = _Stats()
        self._sinks: tuple[_Stats, ...] = (self._stats, *extra_stats)
        self._lock = threading.Lock()
        self._connections: set[Any] = set()
        self._threads: set[threading.Thread] = set()
        self._aborts: set[Any] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self.errors: list[BaseException] = []  # exceptions other than connection errors

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._requested_port), self)
        self._httpd = httpd
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-http {self.host}:{httpd.server_port}",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open connections, join every thread.  Idempotent.

        Handlers waiting (delay, trickle) wake up on the stop event; handlers blocked on a
        socket (idle keep-alive read, endless body to a client that stopped reading) are
        woken by ``shutdown(SHUT_RDWR)`` on their connection.
        """
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._serve_thread is not None:
            self._serve_thread.join(max(0.0, deadline - time.monotonic()))
            self._serve_thread = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        return f"http://{authority(self.host, self.port)}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else f"/{path}")

    # -- connection bookkeeping (called from the server threads) -----------------------------

    def _connection_opened(self, connection: Any, thread: threading.Thread) -> None:
        with self._lock:
            self._connections.add(connection)
            self._threads.add(thread)

    def _connection_closed(self, connection: Any, thread: threading.Thread) -> None:
        with self._lock:
            self._connections.discard(connection)
            self._threads.discard(thread)
            self._aborts.discard(connection)

    def _mark_abort(self, connection: Any) -> None:
        with self._lock:
            self._aborts.add(connection)

    def _take_abort(self, connection: Any) -> bool:
        with self._lock:
            if connection in self._aborts:
                self._aborts.discard(connection)
                return True
            return False

    def __repr__(self) -> str:
        where = self.base_url if self.running else f"{self.host} (stopped)"
        return f"<LoopbackServer {where}>"


class LoopbackCluster(_RoutesMixin, _StatsMixin, LoopbackService):
    """One server per loopback address (127.0.0.2 ... 127.0.0.(n+1) by default), one route table.

    With ``port=0`` every address gets the same port when it is free everywhere (retried a
    few times, then each address takes its own).  ``requests``/``max_concurrency`` cover
    the whole cluster (``max_concurrency("127.0.0.3")`` is that host alone); each member
    server in ``servers`` also keeps its own statistics.
    """

    def __init__(
        self, n_hosts: int = 4, port: int = 0, *, hosts: Sequence[str] | None = None
    ) -> None:
        if hosts is None:
            if not 1 <= n_hosts <= 253:
                raise ValueError("n_hosts must be between 1 and 253")
            hosts = [f"127.0.0.{index}" for index in range(2, n_hosts + 2)]
        for host in hosts:
            check_loopback(host)
        self.hosts: list[str] = list(hosts)
        self._requested_port = port
        self._routes = _RouteTable()
        self._stats = _Stats()
        self.servers: list[LoopbackServer] = []

    def _member(self, host: str, port: int) -> LoopbackServer:
        return LoopbackServer(host, port, routes=self._routes, extra_stats=(self._stats,))

    def start(self) -> Self:
        if self.servers:
            raise RuntimeError("cluster already started")
        if self._requested_port == 0 and len(self.hosts) > 1:
            for _attempt in range(10):
                started: list[LoopbackServer] = []
                try:
                    first = self._member(self.hosts[0], 0).start()
                    started.append(first)
                    for host in self.hosts[1:]:
                        started.append(self._member(host, first.port).start())
                except OSError:
                    for server in started:
                        server.stop()
                    continue
                self.servers = started
                return self
        started = []
        try:
            for host in self.hosts:
                started.append(self._member(host, self._requested_port).start())
        except BaseException:
            for server in started:
                server.stop()
            raise
        self.servers = started
        return self

    def stop(self) -> None:
        servers, self.servers = self.servers, []
        for server in servers:
            server._stopping.set()  # wake every delayed/trickling handler at once
        for server in servers:
            server.stop()

    def __len__(self) -> int:
        return len(self.servers)

    def __iter__(self) -> Iterator[LoopbackServer]:
        return iter(self.servers)

    def __getitem__(self, index: int) -> LoopbackServer:
        return self.servers[index]

    @property
    def base_urls(self) -> list[str]:
        return [server.base_url for server in self.servers]

    @property
    def base_url(self) -> str:
        return self.servers[0].base_url

    def url(self, path: str = "/", index: int = 0) -> str:
        return self.servers[index].url(path)

    def urls(self, path: str = "/") -> list[str]:
        return [server.url(path) for server in self.servers]

    @property
    def errors(self) -> list[BaseException]:
        return list(itertools.chain.from_iterable(server.errors for server in self.servers))


# --- subprocess mode ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.httpserver",
        description="Serve a directory over HTTP/1.1 on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--hosts", default="", help="comma-separated loopback addresses")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--routes-dir", type=Path, required=True, help="files served at /<path>")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each response")
    args = parser.parse_args(argv)

    hosts = [host.strip() for host in args.hosts.split(",") if host.strip()] or [args.host]
    for host in hosts:
        try:
            check_loopback(host)
        except ValueError as exc:
            parser.error(str(exc))
    if not args.routes_dir.is_dir():
        parser.error(f"--routes-dir {args.routes_dir} is not a directory")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    cluster = LoopbackCluster(port=args.port, hosts=hosts)
    cluster.serve_dir(args.routes_dir, delay=args.delay)
    parent = os.getppid()
    with cluster:
        for base_url in cluster.base_urls:
            print(f"READY {base_url}", flush=True)
        # Also stop when the parent dies without terminating us (we get re-parented).
        while not stop.wait(0.2):
            if os.getppid() != parent:
                break
    return 0


# --- pytest fixtures (imported into tests/conftest.py) --------------------------------------


# ``name=`` lets a test module import these under another name (``from
# tests.support.httpserver import http_server as _http_server``) without ruff's F811 on every
# test that takes the fixture.
@pytest.fixture(name="http_server")
def http_server() -> Iterator[LoopbackServer]:
    """A started ``LoopbackServer`` on 127.0.0.1, stopped after the test."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture(name="http_cluster")
def http_cluster() -> Iterator[LoopbackCluster]:
    """A started ``LoopbackCluster`` on 127.0.0.2 ... 127.0.0.5 sharing one route table."""
    with LoopbackCluster(4) as cluster:
        yield cluster


if __name__ == "__main__":
    sys.exit(main())
