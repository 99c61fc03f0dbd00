"""The unified scorer on hand-computable cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nesbench.metrics.psnr import PSNR_CAP_DB
from nesbench.metrics.score import score_sequence


def _score(pred, gt, **kw):
    stub = Path(__file__).resolve().parents[1] / "fixtures" / "metric_parity" / "lpips_alexnet_stub.pth"
    return score_sequence(pred, gt, "unified", resolution=64, device="cpu", lpips_backbone=stub, **kw)


def test_identical_composites_score_perfectly(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / "rgb" / f"{k}.png", img)
    rec = _score(tmp_path / "pred", tmp_path / "gt")
    assert rec["n_scored"] == 2
    for v in rec["frames"].values():
        assert v["l1"] == 0 and v["mse"] == 0 and v["psnr"] == PSNR_CAP_DB  # docs/METRICS.md: exact match
        assert v["ssim"] == pytest.approx(1.0, abs=1e-6)
        assert v["lpips"] == pytest.approx(0.0, abs=1e-7)


def test_constant_offset_inside_a_hard_mask(tmp_path, mx) -> None:
    gt = tmp_path / "gt"
    mx.make_sequence(gt, n=1, cloth=False)
    img = np.full((64, 64, 3), 100, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    mx.write_png(gt / "image" / "1.png", img)
    mx.write_png(gt / "mask" / "1.png", mask)  # 1-channel mask, handled explicitly
    # background of the prediction is garbage: outside the mask it must not count
    pred = np.where(mask[:, :, None] > 0, 110, 7).astype(np.uint8)
    mx.write_png(tmp_path / "pred" / "1.png", np.repeat(pred, 3, 2) if pred.shape[2] == 1 else pred)
    v = _score(tmp_path / "pred", gt)["frames"]["1"]
    assert v["l1"] == pytest.approx(10 / 255, abs=1e-6)
    assert v["mse"] == pytest.approx((10 / 255) ** 2, rel=1e-5)
    assert v["psnr"] == pytest.approx(20 * math.log10(255 / 10), abs=1e-4)


def test_cloth_labels_are_outside_the_head_mask(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=1, res=64, cloth=True)
    pred = imgs[1].copy()
    pred[int(64 * 0.8) :, :] = 0  # wrong only where the semantic map says cloth
    mx.write_png(tmp_path / "pred" / "1.png", pred)
    v = _score(tmp_path / "pred", tmp_path / "gt")["frames"]["1"]
    assert v["l1"] == 0


def test_soft_mask_weights_errors(tmp_path, mx) -> None:
    gt = tmp_path / "gt"
    mx.make_sequence(gt, n=1, cloth=False)
    mx.write_png(gt / "image" / "1.png", np.zeros((64, 64, 3), np.uint8))
    mx.write_png(gt / "mask" / "1.png", np.full((64, 64), 51, np.uint8))  # m = 0.2 everywhere
    mx.write_png(tmp_path / "pred" / "1.png", np.full((64, 64, 3), 255, np.uint8))
    v = _score(tmp_path / "pred", gt)["frames"]["1"]
    # composites: G = 0.8 (white where m=0), P = 1; error m*|P-G| / m = 0.2
    assert v["l1"] == pytest.approx(0.2, abs=1e-6)
