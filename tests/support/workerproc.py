"""Start a real `newsingest worker` (Celery, prefork) as a subprocess for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.cli import EXE

__all__ = ["WorkerProcess", "celery_worker", "wait_for"]


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


@contextmanager
def celery_worker(
    env: dict[str, str], *args: str, cwd: Path | None = None, ready_timeout: float = 60
) -> Iterator[WorkerProcess]:
    """A running worker; stopped with SIGTERM (warm shutdown) when the block ends."""
    assert EXE, "newsingest console script not installed"
    proc = subprocess.Popen(
        [EXE, "worker", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    worker = WorkerProcess(proc)
    try:
        deadline = time.monotonic() + ready_timeout
        while not worker.ready.wait(0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{worker.output}")
        yield worker
    finally:
        worker.stop()
        if proc.poll() is None:  # pragma: no cover - stop() kills as a last resort
            os.killpg(proc.pid, signal.SIGKILL)


def wait_for(predicate: object, timeout: float = 60, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]
