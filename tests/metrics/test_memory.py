"""reuse_freed_memory: batch-sized blocks are reused instead of being mapped (and page-faulted) anew."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nesbench.metrics.engine import memory

PROBE = """
import resource
import numpy as np
from nesbench.metrics.engine.memory import reuse_freed_memory

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):  # the pattern of a batch: 24 MB (8 x 3 x 512 x 512 float32) and 8 MB tensors come and go
        a = np.ones(6 << 20, dtype=np.float32)
        b = np.ones(6 << 20, dtype=np.float32)
        c = np.ones(2 << 20, dtype=np.float32)
        del a, b
        d = np.ones(6 << 20, dtype=np.float32)
        del c, d
        e = np.ones(6 << 20, dtype=np.float64)  # above glibc's largest mmap threshold: 48 MB (float64 batch sums)
        del e
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()
default = faults()
on = reuse_freed_memory()
faults()
print(default, faults(), on)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings (Linux)")
def test_freed_batch_blocks_are_reused_without_page_faults() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    default, reused, on = out.split()
    if on != "True":
        pytest.skip("not glibc: reuse_freed_memory is a no-op here")
    assert int(default) > 2000  # glibc's defaults return freed blocks to the kernel: fresh pages fault again
    assert int(reused) < int(default) / 10


def test_is_idempotent() -> None:
    assert memory.reuse_freed_memory() == memory.reuse_freed_memory()
