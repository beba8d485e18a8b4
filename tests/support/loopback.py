"""What every server the tests start shares: it listens on loopback only, on a free port,
runs from a thread or a subprocess, starts, stops (idempotent) and is a context manager.

``LoopbackService`` is the base of the HTTP origin (``httpserver``), the private Redis
(``redisproc``) and the TCP proxy (``tcpproxy``). Nothing here ever listens on, or talks to,
an address outside 127.0.0.0/8 (or ``::1``).
"""

from __future__ import annotations

import abc
import ipaddress
import socket
from types import TracebackType
from typing import Self

__all__ = ["LoopbackService", "authority", "check_loopback", "free_port"]


def check_loopback(host: str) -> None:
    """Raise ``ValueError`` unless ``host`` is a loopback IP literal."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r}: give a loopback IP literal (127.x.y.z or ::1)") from None
    if not address.is_loopback:
        raise ValueError(f"{host!r} is not a loopback address; this server only uses loopback")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (for servers that must be told their port)."""
    check_loopback(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def authority(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals bracketed."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class LoopbackService(abc.ABC):
    """A server on loopback addresses: ``start()`` returns it running, ``stop()`` is
    idempotent, and ``with`` does both."""

    @abc.abstractmethod
    def start(self) -> Self:
        """Listen (on a free port unless one was given); return once it accepts."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop listening and release every thread, process and socket; idempotent."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
