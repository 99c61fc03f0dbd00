"""Keep freed batch-sized memory blocks for reuse (glibc ``mallopt``): scoring on the CPU allocates and frees
the same ~25 MB tensors for every batch (composites, differences, SSIM maps, LPIPS activations). By default glibc
serves blocks that large with fresh ``mmap``\\ s and returns them on free, so every batch pays for ~80,000 page faults
(the kernel zeroes each new page): ~0.2 CPU-seconds per batch of 8 frames at 512 px on a 2-core machine, measured
(docs/PERFORMANCE.md). With blocks up to 32 MB (glibc's maximum) taken from the heap, and the heap top not trimmed
below 1 GB, a batch reuses the pages of the previous one. Larger blocks (the float64 copies that per-image float64
sums make of 8 x 3 x 512 x 512 float32 tensors: 50 MB; the first LPIPS activations: 33 MB) would still be mapped
anew for every batch, so no block is served by ``mmap`` at all (``M_MMAP_MAX`` 0): they come from the heaps too, and
their pages are reused (issue 14: ~45 CPU-ms less per batch for each such sum).

Process-wide and idempotent; called by the scoring entry points (``score_benchmark``, ``score_sequence``,
scripts/bench_metrics.py), never by a constructor. No effect on values; a no-op outside glibc (macOS, musl).
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -2, -3, -4  # glibc malloc.h
MMAP_THRESHOLD = 32 << 20  # glibc's upper bound (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 1 << 30
TOP_PAD = 64 << 20

_done: bool | None = None


def reuse_freed_memory() -> bool:
    """Apply the malloc settings once per process; True when they are in effect (glibc), else False."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl has mallopt as a no-op stub)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = all(
        mallopt(param, value) == 1
        for param, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_TOP_PAD, TOP_PAD),
            (M_MMAP_MAX, 0),  # blocks above the 32 MB threshold from the heaps as well
        )
    )
    return _done
