"""What every benchmark stage reports, and how it is measured: a ``Stage`` row, the peak memory of this process,
its children and the warehouse server while it ran (``PeakMemory``), and wall seconds (``timed``). bench/run.py
and bench/orchestration.py both build stages from here, so neither imports the other for them.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil


@dataclass
class Stage:
    stage: str
    rows: int
    seconds: float
    floor_seconds: float | None
    floor: str
    peak_rss_mb: float
    notes: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return round(self.seconds / self.floor_seconds, 2) if self.floor_seconds else None

    @property
    def rows_per_second(self) -> float:
        return round(self.rows / self.seconds, 1) if self.seconds else 0.0


class PeakMemory:
    """Samples the memory of this process, its children and the warehouse server processes.

    PSS (proportional set size) rather than RSS: PostgreSQL backends share their buffer pool, and
    adding up RSS would count it once per backend.
    """

    def __init__(self, server_pids: list[int]):
        self.server_pids = server_pids
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> int:
        total = 0
        roots = [psutil.Process()] + [psutil.Process(p) for p in self.server_pids if psutil.pid_exists(p)]
        seen = set()
        for root in roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                if proc.pid in seen:
                    continue
                seen.add(proc.pid)
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:
                    pass
        return total

    def _run(self):
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._sample())

    def __enter__(self):
        self.peak = self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return round(self.peak / 2**20, 1)


@contextmanager
def timed():
    box = {}
    started = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - started
