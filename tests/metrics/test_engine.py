"""Engine batching: frames at the resolution (kept uint8) and resized frames (float32) in one batch, several
methods sharing the GT work, and the stage timer used by scripts/bench_metrics.py."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from nesbench.metrics.engine import Engine, PredSource
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.metrics.registry import list_scorers, scorer_formulas_at
from nesbench.metrics.scorers import ScoreContext


def _preds(folder, n: int) -> PredSource:
    return PredSource({k: folder / f"{k}.png" for k in range(1, n + 1)})


@pytest.fixture
def seq(tmp_path, mx):
    """3 GT frames at 64x64; method 'a' renders frame 2 at 128x128 (resized by every scorer), 'b' all at 64."""
    imgs = mx.make_sequence(tmp_path / "gt", n=3, res=64, seed=3)
    rng = np.random.default_rng(1)
    for m in ("a", "b"):
        for k, img in imgs.items():
            pred = np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
            if m == "a" and k == 2:
                pred = cv2.resize(pred, (128, 128), interpolation=cv2.INTER_NEAREST)
            mx.write_png(tmp_path / m / f"{k}.png", pred)
    return tmp_path


def _score(seq, stub, batch_size: int, methods=("a", "b"), profile: bool = False, prefetch: int = 1):
    eng = Engine(
        [scorer_formulas_at(n, 64) for n in list_scorers()],
        device="cpu",
        lpips_backbone=stub,
        batch_size=batch_size,
        profile=profile,
        prefetch=prefetch,
    )
    return eng, eng.score(seq / "gt", {m: _preds(seq / m, 3) for m in methods})


def test_mixed_batches_and_shared_gt_give_the_single_frame_values(seq, stub) -> None:
    _, one_a = _score(seq, stub, batch_size=1, methods=("a",))
    _, one_b = _score(seq, stub, batch_size=1, methods=("b",), prefetch=2)  # two batches decoded ahead
    _, batched = _score(seq, stub, batch_size=3)  # b reuses the GT stacks and GT LPIPS features of a
    for name in list_scorers():
        for m, one in (("a", one_a), ("b", one_b)):
            f1, f3 = one[m, name].frames, batched[m, name].frames
            assert set(f1) == set(f3) == {1, 2, 3}
            for k in f1:
                for metric, v in f1[k].items():
                    want = None if v is None else pytest.approx(v, rel=1e-6, abs=1e-7)  # None: no face found
                    assert f3[k][metric] == want, (name, m, k, metric)
        assert batched["b", name].frames[2]["lpips"] != batched["a", name].frames[2]["lpips"]  # they differ


def test_stage_timer_records_each_stage_only_when_enabled(seq, stub) -> None:
    eng, _ = _score(seq, stub, batch_size=2)
    assert dict(eng.timer.seconds) == {}
    eng, _ = _score(seq, stub, batch_size=2, profile=True)
    assert set(eng.timer.seconds) == {"decode", "wait", "score", "ssim", "lpips"}
    assert all(v > 0 for v in eng.timer.seconds.values())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_scoring_a_batch_on_cuda_never_waits_for_the_gpu(stub) -> None:
    """No scorer makes the host wait for the GPU inside ``score`` (a hidden synchronisation, e.g. copying a constant
    from pageable memory, stops the engine from queueing the next batch while the GPU works)."""
    dev = torch.device("cuda")
    lpips = LpipsAlex(stub, dev)
    rng = np.random.default_rng(0)

    def batch(c: int, high: int = 256) -> torch.Tensor:
        return torch.from_numpy(rng.integers(0, high, (4, 64, 64, c), dtype=np.uint8)).to(dev)

    checked = []
    for name in list_scorers():
        s = scorer_formulas_at(name, 64)
        if not s.graphable:  # declared host-bound (the legacy OpenCV SSIM): the engine scores it eagerly
            continue
        checked.append(name)
        gt = {
            n: t.permute(0, 3, 1, 2) for n, t in s.select_gt(batch(3), batch(1), batch(1, 20)[..., 0]).items()
        }
        pred = {"pred": batch(3).permute(0, 3, 1, 2)}
        with torch.inference_mode():
            s.score(gt, pred, ScoreContext(lpips))  # warm-up: cuDNN set-up, constants made on the device once
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")
            try:
                out = s.score(gt, pred, ScoreContext(lpips))
            finally:
                torch.cuda.set_sync_debug_mode("default")
        assert {"l1", "psnr", "ssim", "lpips"} <= set(out), name
    assert "unified" in checked


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replay_gives_the_eager_values(tmp_path, mx, stub) -> None:
    """Full batches are replayed from captured graphs, a shorter last batch and a batch with a failed frame run
    eagerly; every value equals the eager engine's, for every scorer and method."""
    imgs = mx.make_sequence(tmp_path / "gt", n=7, res=64, seed=5)
    rng = np.random.default_rng(2)
    for m in ("a", "b"):
        for k, img in imgs.items():
            mx.write_png(
                tmp_path / m / f"{k}.png",
                np.clip(img + rng.integers(-9, 10, img.shape), 0, 255).astype(np.uint8),
            )
    (tmp_path / "b" / "6.png").write_bytes(b"broken")
    preds = {m: _preds(tmp_path / m, 7) for m in ("a", "b")}

    def run(graphs: bool):
        eng = Engine([scorer_formulas_at(n, 64) for n in list_scorers()], device="cuda", lpips_backbone=stub,
                     batch_size=3, cuda_graphs=graphs)  # fmt: skip
        out = {key: (r.frames, r.failed) for key, r in eng.score(tmp_path / "gt", preds).items()}
        return out, eng.graphs

    eager, _ = run(False)
    replayed, graphs = run(True)
    graphable = [n for n in list_scorers() if scorer_formulas_at(n, 64).graphable]
    assert "unified" in graphable
    assert graphs.enabled and len(graphs._graphs) == len(graphable)  # one graph per graphable scorer
    assert replayed == eager
    assert "6.png" in eager["b", "unified"][1][6] and len(eager["a", "unified"][0]) == 7
