"""Property test over the scorer inputs: whatever the pixels (exact matches, empty or partial masks, extremes),
every expected frame is either scored with finite values (PSNR at most the cap) or failed with a reason."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nesbench.metrics.engine import Engine, PredSource
from nesbench.metrics.psnr import PSNR_CAP_DB
from nesbench.metrics.registry import get_scorer

STUB = Path(__file__).resolve().parents[1] / "fixtures" / "metric_parity" / "lpips_alexnet_stub.pth"
RES = 32
SCORERS = ("unified", "renderme-imavatar", "renderme-pointavatar")
_ENGINE: Engine | None = None


def engine() -> Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine(
            [get_scorer(n, resolution=RES) for n in SCORERS], device="cpu", lpips_backbone=STUB, batch_size=4
        )
    return _ENGINE


def _png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img)


IMAGE = st.sampled_from(["random", "black", "white", "same"])
MASK = st.sampled_from(["empty", "full", "half", "one-pixel", "random"])


def _image(kind: str, rng: np.random.Generator, gt: np.ndarray | None = None) -> np.ndarray:
    if kind == "same" and gt is not None:
        return gt
    if kind == "black":
        return np.zeros((RES, RES, 3), np.uint8)
    if kind == "white":
        return np.full((RES, RES, 3), 255, np.uint8)
    return rng.integers(0, 256, (RES, RES, 3), dtype=np.uint8)


def _mask(kind: str, rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((RES, RES), np.uint8)
    if kind == "full":
        m[:] = 255
    elif kind == "half":
        m[: RES // 2] = 255
    elif kind == "one-pixel":
        m[RES // 2, RES // 2] = 255
    elif kind == "random":
        m = rng.integers(0, 256, (RES, RES), dtype=np.uint8)
    return np.repeat(m[:, :, None], 3, 2)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(st.tuples(IMAGE, IMAGE, MASK, st.booleans()), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_every_frame_is_scored_finite_or_failed(frames, seed) -> None:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        gt_dir, pred_dir = Path(tmp) / "gt", Path(tmp) / "pred"
        meta = []
        for k, (gt_kind, pred_kind, mask_kind, cloth) in enumerate(frames, start=1):
            gt = _image(gt_kind, rng)
            _png(gt_dir / "image" / f"{k}.png", gt)
            _png(gt_dir / "mask" / f"{k}.png", _mask(mask_kind, rng))
            _png(gt_dir / "semantic" / f"{k}.png", np.full((RES, RES), 16 if cloth else 1, np.uint8))
            _png(pred_dir / f"{k}.png", _image(pred_kind, rng, gt))
            meta.append({"file_path": f"./image/{k}"})
        (gt_dir / "flame_params.json").write_text(json.dumps({"frames": meta}))
        files = {k: pred_dir / f"{k}.png" for k in range(1, len(frames) + 1)}
        results = engine().score(gt_dir, {"m": PredSource(files)})
    for name in SCORERS:
        res = results["m", name]
        assert set(res.frames) | set(res.failed) == set(res.expected)
        for values in res.frames.values():
            for metric, v in values.items():
                assert v is None or math.isfinite(v), (name, metric, v)
            assert values["psnr"] <= PSNR_CAP_DB
        for reason in res.failed.values():
            assert reason and "\n" not in reason
