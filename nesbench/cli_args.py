"""Argument types shared by every command (``nesbench ...``, calculate_metric.py, train.sh/eval.sh): one set of
bounds per kind of number, so that a bad value is one argparse line (exit 2), never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MIN_RESOLUTION = (
    32  # pixels per side: LPIPS' AlexNet needs at least 31 (its second max-pool has nothing left)
)
MAX_RESOLUTION = 8192
MAX_BATCH = 4096  # frames per batch
MAX_WORKERS = 1024  # threads / processes / concurrent jobs
MAX_EPOCHS = 1_000_000


def bounded_int(lo: int, hi: int, what: str) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers lo..hi, with a message saying the range."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except (ValueError, AttributeError):
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; {what} is {lo}..{hi}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range; {what} is {lo}..{hi}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


resolution = bounded_int(MIN_RESOLUTION, MAX_RESOLUTION, "a resolution in pixels")
batch_size = bounded_int(1, MAX_BATCH, "a batch size")
workers = bounded_int(1, MAX_WORKERS, "a worker count")
processes = bounded_int(0, MAX_WORKERS, "a process count (0: threads)")
max_parallel = bounded_int(1, MAX_WORKERS, "a number of parallel jobs")
epochs = bounded_int(1, MAX_EPOCHS, "a number of epochs")
checkpoint = bounded_int(0, MAX_EPOCHS, "an epoch number")
seeds = bounded_int(1, 1000, "a number of seeds")
resamples = bounded_int(100, 1_000_000, "a number of bootstrap resamples")
