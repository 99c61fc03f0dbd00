"""Wall-clock time per stage of the metric engine (decode, ssim, lpips, other), for the throughput benchmark."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class StageTimer:
    """Accumulates seconds per stage name. Disabled (the default) it only yields: no synchronisation, no cost.
    Enabled on a CUDA device it synchronises around each stage so that GPU work is attributed to its stage."""

    def __init__(self, device: torch.device, enabled: bool = False):
        self.device = device
        self.enabled = enabled
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        self._sync()
        t = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.add(stage, time.perf_counter() - t)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()


NO_TIMER = StageTimer(torch.device("cpu"))
