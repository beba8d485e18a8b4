"""CPU accounting: every process of a row sampled from /proc, grouped by role."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time

from bench.common import cores

# --------------------------------------------------------------------------- CPU accounting

CLK_TCK = os.sysconf("SC_CLK_TCK")
#: The groups the pipeline's own CPU is counted in (the rest is the HTTP server, this bench
#: process and other users of the machine).
PIPELINE_GROUPS = ("poll", "poll pool", "workers", "workers pool", "PostgreSQL", "Redis")


def pid_cpu(pid: int) -> float:
    """User + system CPU seconds of one live process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            data = stat.read()
    except OSError:
        return 0.0
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    found = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                for child in children.read().split():
                    found += process_tree(int(child))
    return found


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def _machine() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the machine since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(v) for v in stat.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / CLK_TCK, (idle + iowait) / CLK_TCK


class CpuSampler:
    """Where the machine's CPU goes during a run, by group of processes: every process is
    sampled every 0.5 s (so processes that exit before the end, like a poll run's pool, are
    counted up to their last sample). ``roots`` name process trees (``poll``, ``workers``,
    ``HTTP server``); PostgreSQL and Redis are found by name; the rest is ``other``."""

    def __init__(self, roots: dict[str, int], *, sample: bool = True) -> None:
        self.roots = dict(roots)
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.group: dict[int, str] = {}
        self.started = time.monotonic()
        self.machine = _machine()
        self.ended = self.started
        self.machine_end = self.machine
        self._first = True
        self.idle_trace: list[tuple[float, float]] = []  # (monotonic, machine idle seconds)
        self._stop = threading.Event()
        self._tick()
        # sample=False: no thread in this process (when this process is the one measured);
        # only processes alive at both ends are then counted by name.
        self._thread = threading.Thread(target=self._run, daemon=True)
        if sample:
            self._thread.start()

    def _classify(self, pid: int, roots: dict[str, int], trees: dict[str, set[int]]) -> str:
        if pid == os.getpid():
            return "bench"
        for name, members in trees.items():
            if pid in members:
                return name if pid == roots[name] else f"{name} pool"
        comm = _comm(pid)
        if comm == "postgres":
            return "PostgreSQL"
        if comm.startswith("redis-server"):
            return "Redis"
        return "other"

    def _tick(self) -> None:
        roots = dict(self.roots)  # the caller may add one meanwhile
        trees = {name: set(process_tree(root)) for name, root in roots.items()}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            value = pid_cpu(pid)
            if pid not in self.last:
                self.base[pid] = value if self._first else 0.0
            self.last[pid] = max(value, self.last.get(pid, 0.0))
            if self.group.get(pid, "other") == "other":
                self.group[pid] = self._classify(pid, roots, trees)
        self._first = False
        self.idle_trace.append((time.monotonic(), _machine()[1]))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._tick()

    def stop(self) -> CpuSampler:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._tick()
        self.ended = time.monotonic()
        self.machine_end = _machine()
        return self

    def seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, value in self.last.items():
            group = self.group.get(pid, "other")
            out[group] = out.get(group, 0.0) + value - self.base.get(pid, 0.0)
        return out

    def idle_timeline(self, since: float | None = None) -> str:
        """Idle cores, second by second (for the log: where the run left cores unused)."""
        trace = [(t, idle) for t, idle in self.idle_trace if since is None or t >= since]
        cells = []
        for (t0, i0), (t1, i1) in itertools.pairwise(trace[::2]):
            cells.append(f"{(i1 - i0) / max(t1 - t0, 1e-9):.1f}")
        return " ".join(cells)

    def pipeline(self) -> float:
        """CPU seconds of the pipeline's own processes (its groups, services included)."""
        found = self.seconds()
        return sum(found.get(g, 0.0) for g in PIPELINE_GROUPS)

    def share(self, group: str) -> float:
        """The fraction of the machine's CPU (all cores, over the run) ``group`` used;
        ``other`` is everything the named groups did not use (kernel time included)."""
        capacity = cores() * max(self.ended - self.started, 1e-9)
        found = self.seconds()
        if group == "other":
            busy = self.machine_end[0] - self.machine[0]
            return max(0.0, busy - sum(v for g, v in found.items() if g != "other")) / capacity
        return found.get(group, 0.0) / capacity

    def note(self, labels: dict[str, str]) -> str:
        wall = self.ended - self.started
        found = self.seconds()
        busy = self.machine_end[0] - self.machine[0]
        idle = self.machine_end[1] - self.machine[1]
        parts = [
            f"{labels.get(g, g)} {found[g]:.1f} s"
            for g in (*PIPELINE_GROUPS, "HTTP server", "bench", "other")
            if found.get(g, 0.0) >= 0.05
        ]
        unattributed = busy - sum(found.values())
        parts.append(f"unattributed (kernel) {max(0.0, unattributed):.1f} s")
        parts.append(f"idle {idle:.1f} s")
        return (
            f"CPU over the run ({cores()} cores x {wall:.0f} s = {cores() * wall:.0f} s): "
            + ", ".join(parts)
        )


GROUP_LABELS = {
    "poll": "fetcher (`newsingest run`/`poll`) main process",
    "poll pool": "its pool processes",
    "workers": "Celery worker main process",
    "workers pool": "its prefork children",
    "bench": "this bench process",
    "other": "**other users' processes**",
}
