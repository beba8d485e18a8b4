"""The benchmark's origin server: static files over HTTP/1.1 on loopback, as cheaply as possible.

    python -m bench.origin --hosts 127.0.0.2,127.0.0.3 --routes-dir DIR [--delay 0.1]

prints ``READY http://HOST:PORT`` per address once listening; SIGTERM or SIGINT stops it.

Why not ``tests.support.httpserver`` (the test suite's origin, with misbehaving routes): that one
is ``http.server.ThreadingHTTPServer``, a thread and several Python-level parsing steps per
request, ~2 ms of CPU each. On this 2-core machine the origin shares the cores with the
pipeline being measured (a real site would not), so every millisecond it spends is taken
from the pipeline's side of the ratio. This one is one asyncio protocol: GET/HEAD, keep-alive,
files read once into memory, the same Content-Type rules, ``--delay`` per response without a
thread. Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.support.httpserver import content_type_for
from tests.support.loopback import check_loopback

MAX_HEAD = 64 * 1024


class Files:
    """Responses for the files under ``root``, kept in memory while the file is unchanged
    (a stat per request: the latency row rewrites its feeds while they are being polled)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        # path -> ((mtime_ns, size), head fields, body)
        self.cache: dict[str, tuple[tuple[int, int], bytes, bytes]] = {}

    def get(self, target: str) -> tuple[int, bytes, bytes]:
        path = unquote(urlsplit(target).path)
        file = (self.root / path.lstrip("/")).resolve()
        try:
            if not file.is_relative_to(self.root):
                raise FileNotFoundError(path)
            st = file.stat()
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            return 404, b"Content-Type: text/plain\r\n", b"not found\n"
        version = (st.st_mtime_ns, st.st_size)
        found = self.cache.get(path)
        if found is None or found[0] != version:
            body = file.read_bytes()
            kind = content_type_for(file, body[:512])
            found = (version, f"Content-Type: {kind}\r\n".encode(), body)
            self.cache[path] = found
        return 200, found[1], found[2]


REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed"}


class Origin(asyncio.Protocol):
    def __init__(self, files: Files, delay: float) -> None:
        self.files = files
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._send(self._response(400, b"", b"", head_only=False, close=True))
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            close = any(line.lower() == b"connection: close" for line in lines[1:])
            if len(parts) != 3:
                response = self._response(400, b"", b"", head_only=False, close=True)
            elif parts[0] not in (b"GET", b"HEAD"):
                response = self._response(405, b"", b"", head_only=False, close=close)
            else:
                status, fields, body = self.files.get(parts[1].decode("latin-1"))
                response = self._response(
                    status, fields, body, head_only=parts[0] == b"HEAD", close=close
                )
            if self.delay:
                asyncio.get_running_loop().call_later(self.delay, self._send, response)
            else:
                self._send(response)

    @staticmethod
    def _response(
        status: int, fields: bytes, body: bytes, *, head_only: bool, close: bool
    ) -> tuple[bytes, bytes, bool]:
        head = b"HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\nConnection: %s\r\n\r\n" % (
            status,
            REASONS[status],
            fields,
            len(body),
            b"close" if close else b"keep-alive",
        )
        return head, b"" if head_only else body, close

    def _send(self, response: tuple[bytes, bytes, bool]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        head, body, close = response
        transport.writelines((head, body))
        if close:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(hosts: Sequence[str], root: Path, delay: float) -> None:
    loop = asyncio.get_running_loop()
    files = Files(root)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers = []
    for host in hosts:
        server = await loop.create_server(
            lambda: Origin(files, delay), host, 0, backlog=1024, reuse_address=True
        )
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        print(f"READY http://{host}:{port}", flush=True)
    parent = os.getppid()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        if os.getppid() != parent:  # re-parented: the bench died without stopping us
            break
    for server in servers:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.origin", description=__doc__)
    parser.add_argument("--hosts", required=True, help="comma-separated loopback addresses")
    parser.add_argument("--routes-dir", type=Path, required=True, help="files served at /<path>")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each response")
    args = parser.parse_args(argv)
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    for host in hosts:
        try:
            check_loopback(host)
        except ValueError as exc:
            parser.error(str(exc))
    if not args.routes_dir.is_dir():
        parser.error(f"--routes-dir {args.routes_dir} is not a directory")
    asyncio.run(serve(hosts, args.routes_dir, args.delay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
