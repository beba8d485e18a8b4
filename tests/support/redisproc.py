"""A private ``redis-server`` subprocess for fault tests: kill it, start it again on the same port.

Persistence is off (``--save "" --appendonly no``): a restart is a Redis that lost every key,
the "Redis flushed" case. It listens on 127.0.0.1 only, in its own temporary directory.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.support.loopback import LoopbackService, check_loopback, free_port

__all__ = ["REDIS_SERVER", "RedisServer", "free_port"]

REDIS_SERVER = shutil.which("redis-server")


class RedisServer(LoopbackService):
    def __init__(self, port: int = 0, *, host: str = "127.0.0.1") -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server not found on PATH")
        check_loopback(host)
        self.host = host
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout: float = 10.0) -> Self:
        if self.proc is not None:
            raise RuntimeError("redis-server already running")
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="newsingest-redis-")
        assert REDIS_SERVER is not None
        log = Path(self._dir.name) / "redis.log"
        args = ["--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no"]
        args += ["--daemonize", "no", "--dir", self._dir.name, "--logfile", str(log)]
        self.proc = subprocess.Popen(
            [REDIS_SERVER, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{text[-2000:]}")
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        """True when the server answers PING (raw RESP, no client library state)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: every key is lost (persistence is off); open connections are reset."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)

    def restart(self) -> Self:
        self.kill()
        return self.start()

    def stop(self) -> None:
        self.kill()
        directory, self._dir = self._dir, None
        if directory is not None:
            with contextlib.suppress(OSError):
                directory.cleanup()
