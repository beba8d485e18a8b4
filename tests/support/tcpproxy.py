"""A small TCP proxy on loopback for fault tests: put it in front of a service (PostgreSQL),
point the client at it, and ``pause()`` it to simulate an outage.

``pause()`` closes the listening socket (new connections are refused: ECONNREFUSED) and cuts
every live connection (both sides are shut down and closed); ``resume()`` listens again on
the same port. One accept thread, two pump threads per connection; every thread and socket is
joined and closed by ``pause()``/``stop()``.

Only loopback addresses are accepted, on both sides.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Self

from tests.support.loopback import LoopbackService, check_loopback

__all__ = ["TcpProxy"]

JOIN_TIMEOUT = 5.0
BUFFER = 64 * 1024


class _Link:
    """One proxied connection: client <-> upstream, pumped by two threads."""

    def __init__(self, proxy: TcpProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._running = 2
        self.threads = [
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True),
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def cut(self) -> None:
        """Shut both sockets down: the pump threads wake up, finish and close them."""
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(BUFFER)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self.cut()  # one side gone: end the whole link
            with self._lock:
                self._running -= 1
                last = self._running == 0
            if last:
                self.client.close()
                self.upstream.close()
                self.proxy._forget(self)


class TcpProxy(LoopbackService):
    """Forward ``host:port`` (port 0: a free one) to ``target_host:target_port``."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 5.0,
    ) -> None:
        check_loopback(host)
        check_loopback(target_host)
        self.host = host
        self.target = (target_host, target_port)
        self.connect_timeout = connect_timeout
        self._port = port
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._listener: socket.socket | None = None
        self._accepting = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self.accepted = 0  # connections accepted since start

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._listener is not None:
            raise RuntimeError("proxy already listening")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self._port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._accepting.set()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, args=(listener,), name=f"tcpproxy :{self._port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def pause(self) -> None:
        """Refuse new connections and cut every live one; returns once all are closed."""
        self._accepting.clear()
        thread, self._accept_thread = self._accept_thread, None
        if thread is not None:
            thread.join(JOIN_TIMEOUT)
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.cut()
        for link in links:
            link.join(JOIN_TIMEOUT)

    def resume(self) -> None:
        """Accept connections again, on the same port."""
        self.start()

    def stop(self) -> None:
        self.pause()

    # -- state -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("proxy not started")
        return self._port

    @property
    def paused(self) -> bool:
        return self._listener is None

    @property
    def connections(self) -> int:
        """Connections currently open through the proxy."""
        with self._lock:
            return len(self._links)

    # -- threads -----------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._accepting.is_set():
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                client, _addr = listener.accept()
            except OSError:
                continue
            if not self._accepting.is_set():
                client.close()
                break
            try:
                upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
            except OSError:
                client.close()  # upstream down: the client sees the connection close
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self._lock:
                self._links.add(link)
                self.accepted += 1
            link.start()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def __repr__(self) -> str:
        state = "paused" if self.paused else "listening"
        return f"<TcpProxy {self.host}:{self._port} -> {self.target[0]}:{self.target[1]} {state}>"
