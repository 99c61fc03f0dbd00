"""The scorer contract (nesbench/metrics/scorers/base.py), checked on CPU for every registered scorer: inputs at the
scorer's resolution, one floating value per frame and metric on the inputs' device, batch invariance, inputs left
untouched, and, for scorers that CUDA graphs replay, no host synchronisation inside ``score``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nesbench.metrics.engine.prepare import gt_arrays, pred_arrays, score_inputs
from nesbench.metrics.frames import RawGt
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.metrics.registry import list_scorers, scorer_formulas_at
from nesbench.metrics.scorers import RESIZES, SEMANTIC_RESIZES, ScoreContext, Scorer

RES = 40
STUB = Path(__file__).resolve().parents[1] / "fixtures" / "metric_parity" / "lpips_alexnet_stub.pth"
ENGINE_METRICS = {"keypoint", "keypoint_dlib"}  # added by the engine's detectors, not by score()
HOST_SYNC = {"aten::_local_scalar_dense", "aten::item"}  # what .item(), .tolist(), bool(tensor) dispatch to


@pytest.fixture(scope="module")
def lpips() -> LpipsAlex:
    """The LPIPS network with the parity fixture's stub AlexNet (the contract does not depend on the weights)."""
    return LpipsAlex(STUB, "cpu")


def _raw(k: int, res: int, rng: np.random.Generator) -> RawGt:
    yy, xx = np.mgrid[:res, :res]
    disc = np.clip((res * 0.4 - np.hypot(yy - res / 2, xx - res / 2)) * 40, 0, 255).astype(np.uint8)
    sem = np.where(disc > 0, 1, 0).astype(np.uint8)
    sem[int(res * 0.8) :, :] = 16
    image = rng.integers(0, 256, (res, res, 3), dtype=np.uint8)
    return RawGt(
        k, image, np.repeat(disc[:, :, None], 3, 2), sem, None, None, {"image": "i.png", "mask": "m.png"}
    )


def _batch(scorer: Scorer, n: int, src_res: int, seed: int = 0) -> tuple[dict, dict]:
    """n frames prepared for the scorer and stacked as the engine does (B x C x H x W, channels_last)."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for k in range(1, n + 1):
        raw = _raw(k, src_res, rng)
        gts.append(gt_arrays(scorer, raw))
        noisy = np.clip(raw.image.astype(int) + rng.integers(-30, 31, raw.image.shape), 0, 255).astype(
            np.uint8
        )
        preds.append(pred_arrays(scorer, noisy, f"{k}.png"))
    return score_inputs(scorer, gts, preds)


def _rows(t: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    return {n: v[i : i + 1] for n, v in t.items()}


SCORERS = [(n, b) for n in list_scorers() for b in ("auto", "torch")]


@pytest.mark.parametrize(("name", "backend"), SCORERS)
def test_scorer_contract(name: str, backend: str, lpips: LpipsAlex) -> None:
    s = scorer_formulas_at(name, RES, ssim_backend=backend)
    assert s.resize in RESIZES and s.metrics and s.mask_channels in (1, 3)
    assert not s.needs_semantic or (s.semantic_resize in SEMANTIC_RESIZES and s.semantic_use)
    for src_res in (RES, 2 * RES):  # at the resolution, and resized by the scorer's declared rule
        gt, pred = _batch(s, 4, src_res)
        for t in (*gt.values(), *pred.values()):
            assert t.shape[0] == 4 and t.shape[-2:] == (RES, RES)
        before = {n: t.clone() for n, t in (*gt.items(), *pred.items())}
        with torch.inference_mode():
            out = s.score(gt, pred, ScoreContext(lpips))
            assert set(out) == set(s.metrics) - ENGINE_METRICS, (
                "score() returns every metric but the keypoints"
            )
            for n, v in out.items():
                assert v.shape == (4,) and v.is_floating_point() and v.device == pred["pred"].device, n
                assert torch.isfinite(v).all(), n
            for n, t in (*gt.items(), *pred.items()):
                assert torch.equal(t, before[n]), f"score() changed its input {n}"
            # batch invariance: each frame alone gives its value in the batch. LPIPS goes through float32
            # convolutions whose algorithm oneDNN picks per batch size (seen on an Intel Xeon: 1.6e-6 relative on a
            # distance of 0.0017, a difference of feature maps): float32 resolution, not the elementwise 1e-6.
            for i in range(4):
                alone = s.score(_rows(gt, i), _rows(pred, i), ScoreContext(lpips))
                for n, v in alone.items():
                    tol = {"rel": 1e-5, "abs": 1e-7} if n.startswith("lpips") else {"rel": 1e-6, "abs": 1e-9}
                    assert v.item() == pytest.approx(out[n][i].item(), **tol), (n, i)
            # the memo: a second method scored against the same GT reuses its LPIPS features, same values
            ctx = ScoreContext(lpips)
            first, again = s.score(gt, pred, ctx), s.score(gt, pred, ctx)
            assert ctx.memo and all(torch.equal(first[n], again[n]) for n in first)


class _Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.names.add(func._schema.name)
        return func(*args, **(kwargs or {}))


# every registered scorer with its default options, plus the options that make one graphable
VARIANTS = [(n, {}) for n in list_scorers()] + [("renderme-imavatar", {"ssim_filter": "separable"})]


@pytest.mark.parametrize(("name", "options"), VARIANTS)
def test_graphable_scorers_never_synchronise_with_the_host(
    name: str, options: dict, lpips: LpipsAlex
) -> None:
    s = scorer_formulas_at(name, RES, ssim_backend="torch", **options)  # the device formulas, run on the CPU
    if not s.graphable:
        pytest.skip(f"{name} {options or ''} is scored eagerly (graphable is False), the rule does not apply")
    gt, pred = _batch(s, 2, RES)
    with torch.inference_mode(), _Ops() as ops:
        s.score(gt, pred, ScoreContext(lpips))
    assert not ops.names & HOST_SYNC, (
        f"{name}.score synchronises with the host: {sorted(ops.names & HOST_SYNC)}"
    )
    assert ops.names, "the dispatch mode saw no operation"
