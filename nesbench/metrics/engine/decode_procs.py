"""Prediction PNGs decoded in worker processes, straight into the engine's batch buffers in shared memory.

Why processes: on a GPU host the engine's decode threads and its scoring thread share one interpreter lock. Each
PNG decode releases it (OpenCV), but the Python around it (opening the file, checks, bookkeeping) does not, and
with one method per GT frame the threads then slow the scoring thread down (docs/PERFORMANCE.md). Worker
processes each have their own lock; they write each decoded frame into its row of a shared-memory ring of batch
buffers, so nothing but file names and row numbers cross the process boundary (returning arrays by pickling was
4x slower, measured). On CUDA the ring is page-locked (``cudaHostRegister``), so the host-to-device copy of a
batch stays asynchronous, as with the engine's own pinned buffers.

The ring has a fixed number of batch slots; the engine reuses a slot only after the batch that used it has been
scored and its values collected (that wait covers the device copy).

This module imports no torch at its top: the workers (started with 'spawn', safe next to CUDA and threads) only
need numpy and OpenCV.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import weakref
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import numpy as np

from nesbench.errors import NesbenchError
from nesbench.metrics.images import FrameError, read_rgb

WORKER_DIED = "a prediction decode worker process died (out of memory?); rerun with --decode-processes 0 to decode in threads"
_ATTACHED: dict[str, tuple[SharedMemory, np.ndarray]] = {}  # in a worker: the rings it has opened, by name


def _rows_of(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """In a worker: the ring ``name`` as an array of rows (N x H x W x 3 uint8), opened once."""
    if name not in _ATTACHED:
        # the parent owns and unlinks it; before Python 3.13 attaching also registers the name with the resource
        # tracker, which the workers share with the parent (a set: registering it again changes nothing)
        shm = SharedMemory(name=name, track=False) if sys.version_info >= (3, 13) else SharedMemory(name=name)
        _ATTACHED[name] = (shm, np.ndarray(shape, np.uint8, buffer=shm.buf))
    return _ATTACHED[name][1]


def decode_into_rows(name: str, shape: tuple[int, ...], items: list[tuple[str | None, int]]) -> list[object]:
    """In a worker: decode each (PNG path, row) into that row of ring ``name``. Per item: None (the frame is in
    its row), an array (an RGB frame of another size, returned instead), or the failure's message."""
    rows = _rows_of(name, shape)
    out: list[object] = []
    for path, row in items:
        if path is None:
            out.append("no prediction file")
            continue
        target = rows[row]  # one view: read_rgb returns this very object when it wrote the frame into it
        try:
            rgb = read_rgb(Path(path), target)
            out.append(None if rgb is target else rgb)
        except FrameError as exc:
            out.append(str(exc))
    return out


class _Ring:
    """Shared memory holding ``slots`` batch buffers of ``rows`` frames of res x res x 3 uint8 each."""

    def __init__(self, slots: int, rows: int, res: int, pin: bool):
        self.shape = (slots * rows, res, res, 3)
        self.slots, self.rows_per_slot = slots, rows
        nbytes = int(np.prod(self.shape))
        self.shm = SharedMemory(create=True, size=nbytes)
        try:  # take the pages now: a full /dev/shm fails here, not with SIGBUS in a worker writing a frame
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(self.shm._fd, 0, nbytes)  # type: ignore[attr-defined]
        except OSError as exc:
            self.shm.close()
            self.shm.unlink()
            raise OSError(
                f"{nbytes / 2**20:.0f} MiB of shared memory are not available ({exc.strerror})"
            ) from exc
        self.rows = np.ndarray(self.shape, np.uint8, buffer=self.shm.buf)
        self.row_bytes = self.rows[0].nbytes
        self.base = self.rows.ctypes.data
        self.pinned = pin and _pin(self.base, self.rows.nbytes)
        self._close = weakref.finalize(self, _release, self.shm, self.base, self.pinned)

    def fits(self, slots: int, rows: int, res: int) -> bool:
        return slots <= self.slots and rows <= self.rows_per_slot and self.shape[1] == res

    def slot(self, i: int) -> np.ndarray:
        """Batch buffer number i (modulo the slots): rows_per_slot x res x res x 3."""
        start = (i % self.slots) * self.rows_per_slot
        return self.rows[start : start + self.rows_per_slot]

    def row_index(self, row: np.ndarray) -> int:
        """The ring row that the frame view ``row`` is."""
        offset = row.ctypes.data - self.base
        if row.shape != self.shape[1:] or offset % self.row_bytes or not 0 <= offset < self.rows.nbytes:
            raise ValueError("not a row of this ring")
        return offset // self.row_bytes

    def close(self) -> None:
        del self.rows  # the ring's own view; the engine's batch views are gone once no batch is in flight
        self._close()


def _pin(ptr: int, nbytes: int) -> bool:
    """Page-lock host memory for asynchronous CUDA copies; False when that is not possible (copies then wait)."""
    import torch

    try:
        return torch.cuda.cudart().cudaHostRegister(ptr, nbytes, 0) == 0
    except (RuntimeError, AttributeError):
        return False


def _release(shm: SharedMemory, base: int, pinned: bool) -> None:
    if pinned:
        import torch

        torch.cuda.cudart().cudaHostUnregister(base)
    # BufferError: a view is still alive; the mapping goes with it, the name goes now
    with contextlib.suppress(BufferError):
        shm.close()
    shm.unlink()


class DecodedBatch:
    """The prediction frames of one batch being decoded by the workers (see :meth:`ProcessDecoder.submit`)."""

    def __init__(self, chunks: dict[str, list[Future]], per_task: int):
        self._chunks, self._per_task = chunks, per_task

    def rgb(self, method: str, j: int, row: np.ndarray) -> np.ndarray:
        """Frame j of ``method``: ``row`` (its row of the batch buffer) once the worker has written it there, or
        an array of its own (another size); raises FrameError with the reason when it could not be decoded."""
        try:
            got = self._chunks[method][j // self._per_task].result()[j % self._per_task]
        except BrokenProcessPool:
            raise NesbenchError(WORKER_DIED) from None
        if isinstance(got, str):
            raise FrameError(got)
        return row if got is None else got  # type: ignore[return-value]


class ProcessDecoder:
    """A pool of decode worker processes and the shared-memory ring of batch buffers they write into."""

    def __init__(self, processes: int, pin: bool = False, frames_per_task: int = 4):
        """``pin``: page-lock the ring for CUDA copies. ``frames_per_task``: frames a worker decodes per request."""
        self.processes, self.pin, self.frames_per_task = processes, pin, frames_per_task
        self._pool: ProcessPoolExecutor | None = None
        self._ring: _Ring | None = None

    def reserve(self, slots: int, rows: int, res: int) -> None:
        """Make sure the ring has ``slots`` batch buffers of ``rows`` res x res x 3 frames (a smaller one is
        replaced: call this only while no batch is in flight) and the workers are started. OSError when the shared
        memory cannot be had (e.g. a container's small /dev/shm)."""
        if self._ring is None or not self._ring.fits(slots, rows, res):
            if self._ring is not None:
                self._ring.close()
            self._ring = _Ring(slots, rows, res, self.pin)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=mp.get_context("spawn"))

    def buffer(self, batch: int) -> np.ndarray:
        """The buffer of batch number ``batch`` (0, 1, ...): the ring's slots in turn, so a buffer is reused
        ``slots`` batches later."""
        assert self._ring is not None, "reserve() first"
        return self._ring.slot(batch)

    @property
    def pinned(self) -> bool:
        return self._ring is not None and self._ring.pinned

    def submit(self, rows: dict[str, np.ndarray], paths: dict[str, Sequence[Path | None]]) -> DecodedBatch:
        """Start decoding each method's frame j (``paths[m][j]``; None: nothing to decode) into ``rows[m][j]``,
        which must be rows of a :meth:`buffer`."""
        ring, pool, n = self._ring, self._pool, self.frames_per_task
        assert ring is not None and pool is not None, "reserve() first"
        chunks: dict[str, list[Future]] = {}
        for m, files in paths.items():
            items = [(None if f is None else str(f), ring.row_index(rows[m][j])) for j, f in enumerate(files)]
            try:
                chunks[m] = [
                    pool.submit(decode_into_rows, ring.shm.name, ring.shape, items[i : i + n])
                    for i in range(0, len(items), n)
                ]
            except BrokenProcessPool:
                raise NesbenchError(WORKER_DIED) from None
        return DecodedBatch(chunks, n)

    def close(self) -> None:
        """Stop the workers and free the ring."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._ring is not None:
            self._ring.close()
            self._ring = None
