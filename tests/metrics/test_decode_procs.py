"""Predictions decoded in worker processes into the shared-memory ring give exactly the thread-decoded values,
with the same failures, across more batches than the ring has buffers."""

from __future__ import annotations

import errno
from multiprocessing.shared_memory import SharedMemory

import cv2
import numpy as np
import pytest
import torch

from nesbench.errors import NesbenchError
from nesbench.metrics.engine import Engine, PredSource, decode_procs, usable_cores
from nesbench.metrics.engine.decode_procs import ProcessDecoder
from nesbench.metrics.engine.gt_cache import GtCache
from nesbench.metrics.images import FrameError
from nesbench.metrics.registry import get_scorer, list_scorers, scorer_formulas_at

N = 9  # frames: with batch size 2 and one batch ahead, 5 batches through a ring of 3 buffers


@pytest.fixture
def preds(tmp_path, mx) -> dict[str, PredSource]:
    """Methods 'a' (frame 2 at 128x128, frame 4 corrupt, frame 7 grey) and 'b' (frame 5 missing)."""
    imgs = mx.make_sequence(tmp_path / "gt", n=N, res=64, seed=8)
    rng = np.random.default_rng(4)
    for m in ("a", "b"):
        for k, img in imgs.items():
            pred = np.clip(img.astype(int) + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
            if m == "a" and k == 2:
                pred = cv2.resize(pred, (128, 128), interpolation=cv2.INTER_NEAREST)
            if m == "a" and k == 7:
                pred = pred[:, :, 0]
            mx.write_png(tmp_path / m / f"{k}.png", pred)
    (tmp_path / "a" / "4.png").write_bytes(b"not a png")
    return {
        m: PredSource({k: tmp_path / m / f"{k}.png" for k in range(1, N + 1) if (m, k) != ("b", 5)})
        for m in ("a", "b")
    }


def _scorers_at_64() -> list:
    """Every scorer's formulas at 64 px (processes need one resolution for all; the legacy scorers are 512 in use)."""
    return [scorer_formulas_at(n, 64) for n in list_scorers()]


def _run(tmp_path, stub, preds, device: str, processes: int, cache: bool = False, **kw):
    with Engine(_scorers_at_64(), device=device, lpips_backbone=stub,
                batch_size=2, decode_processes=processes, gt_cache=GtCache(tmp_path / "cache") if cache else None,
                **kw) as eng:  # fmt: skip
        out = [eng.score(tmp_path / "gt", preds) for _ in range(2)]  # the second sequence reuses the ring
        pinned = eng.decoder.pinned if eng.decoder else None
    return [{key: (r.frames, r.failed) for key, r in o.items()} for o in out], pinned


@pytest.mark.parametrize("cache", [False, True])
def test_processes_give_the_thread_values_and_failures(tmp_path, stub, preds, cache) -> None:
    threads, _ = _run(tmp_path, stub, preds, "cpu", 0, cache)
    procs, _ = _run(tmp_path, stub, preds, "cpu", 2, cache)
    assert procs == threads
    frames, failed = procs[1]["a", "unified"]
    assert set(frames) == set(range(1, N + 1)) - {4, 7}  # frame 2 (another size) is scored after resizing
    assert "4.png: cannot decode" in failed[4] and "1-channel image" in failed[7]
    assert procs[1]["b", "renderme-imavatar"][1] == {5: "missing prediction 5.png"}


def test_workers_write_frames_into_their_rows_and_closing_frees_the_ring(tmp_path, mx) -> None:
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mx.write_png(tmp_path / "1.png", img)
    mx.write_png(tmp_path / "2.png", np.zeros((4, 4, 3), np.uint8))
    dec = ProcessDecoder(1)
    dec.reserve(slots=2, rows=3, res=8)
    name = dec._ring.shm.name
    buf = dec.buffer(5)
    assert buf.shape == (3, 8, 8, 3) and dec._ring.row_index(buf[2]) == 5
    with pytest.raises(ValueError):
        dec._ring.row_index(np.zeros((8, 8, 3), np.uint8))
    got = dec.submit({"m": buf}, {"m": [tmp_path / "1.png", tmp_path / "2.png", None]})
    row = buf[0]
    assert got.rgb("m", 0, row) is row and np.array_equal(row, img)  # decoded in place, nothing sent back
    assert got.rgb("m", 1, buf[1]).shape == (4, 4, 3)  # another size: the array itself comes back
    with pytest.raises(FrameError, match="no prediction file"):
        got.rgb("m", 2, buf[2])
    dec.close()
    with pytest.raises(FileNotFoundError):
        SharedMemory(name=name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_processes_on_cuda_page_lock_the_ring_and_give_the_thread_values(tmp_path, stub, preds) -> None:
    threads, _ = _run(tmp_path, stub, preds, "cuda", 0, True)
    procs, pinned = _run(tmp_path, stub, preds, "cuda", 2, True)
    assert pinned is True
    assert procs == threads


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or usable_cores() < 8, reason="needs CUDA and 8+ cores")
def test_by_default_a_gpu_host_decodes_in_processes_only_with_the_gt_cache(tmp_path, stub, preds) -> None:
    with Engine(
        [get_scorer("unified", resolution=64)], device="cuda", lpips_backbone=stub, batch_size=2
    ) as eng:
        eng.score(tmp_path / "gt", preds)
        assert eng.decoder is not None and eng.decoder._pool is None  # GT PNGs: threads
        eng.gt_cache = GtCache(tmp_path / "cache")
        eng.score(tmp_path / "gt", preds)
        assert eng.decoder._pool is not None and eng.decoder.processes == eng.workers


def test_cpu_decodes_in_threads_by_default_and_rejects_a_negative_count(stub) -> None:
    assert Engine([get_scorer("unified")], device="cpu", lpips_backbone=stub).decoder is None
    with pytest.raises(NesbenchError, match="--decode-processes -2"):
        Engine([get_scorer("unified")], device="cpu", lpips_backbone=stub, decode_processes=-2)


def _no_room(*args) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_without_shared_memory_asked_for_processes_fail_and_the_default_falls_back(
    tmp_path, stub, preds, monkeypatch, capsys
) -> None:
    """A full /dev/shm (a container's 64 MB) fails when the ring is made, never with SIGBUS in a worker."""
    monkeypatch.setattr(decode_procs.os, "posix_fallocate", _no_room)
    with pytest.raises(NesbenchError, match=r"--decode-processes 2: .*MiB of shared memory.*--shm-size"):
        _run(tmp_path, stub, preds, "cpu", 2)
    threads, _ = _run(tmp_path, stub, preds, "cpu", 0)
    with Engine(_scorers_at_64(), device="cpu", lpips_backbone=stub,
                batch_size=2, decode_processes=2) as eng:  # fmt: skip
        eng.processes_with_gt_cache_only = True  # as the default on a GPU host
        eng.gt_cache = GtCache(tmp_path / "cache")
        got = {key: (r.frames, r.failed) for key, r in eng.score(tmp_path / "gt", preds).items()}
        assert eng.decoder is None and "note: decoding predictions in threads" in capsys.readouterr().err
    assert got == threads[0]


def test_a_dead_worker_is_a_one_line_error(tmp_path, stub, preds) -> None:
    with Engine([get_scorer("unified", resolution=64)], device="cpu", lpips_backbone=stub, batch_size=2,
                decode_processes=1) as eng:  # fmt: skip
        eng.score(tmp_path / "gt", preds)
        for proc in eng.decoder._pool._processes.values():
            proc.kill()
        with pytest.raises(NesbenchError, match="decode worker process died.*--decode-processes 0"):
            eng.score(tmp_path / "gt", preds)
