"""Bad inputs: missing, extra, corrupt, mis-sized frames and 1-channel masks; device choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nesbench.errors import DataError, NesbenchError
from nesbench.metrics.score import score_sequence


def _run(tmp_path, mx, scorer="renderme-imavatar", **kw):
    return score_sequence(
        tmp_path / "pred",
        tmp_path / "gt",
        mx.scorer_at(scorer, 64),
        device="cpu",
        lpips_backbone=mx.STUB,
        **kw,
    )


def test_missing_corrupt_and_missized_frames_are_recorded(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=4)
    mx.write_png(tmp_path / "pred" / "1.png", imgs[1])
    (tmp_path / "pred" / "2.png").write_bytes(b"not a png")
    mx.write_png(tmp_path / "pred" / "3.png", np.zeros((32, 64, 3), np.uint8))  # width ok, height wrong
    rec = _run(tmp_path, mx)
    assert rec["n_expected"] == 4 and rec["n_scored"] == 1
    assert set(rec["failed"]) == {"2", "3", "4"}
    assert "cannot decode" in rec["failed"]["2"] and "2.png" in rec["failed"]["2"]
    assert "expected 64x64" in rec["failed"]["3"]
    assert "missing prediction 4.png" in rec["failed"]["4"]


def test_legacy_scorer_resizes_when_width_differs(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=1)
    big = np.kron(imgs[1], np.ones((2, 2, 1), np.uint8))
    mx.write_png(tmp_path / "pred" / "1.png", big)
    assert _run(tmp_path, mx)["n_scored"] == 1


def test_extra_frames_are_an_error(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k in (1, 2, 3):
        mx.write_png(tmp_path / "pred" / "rgb" / f"{k}.png", imgs[1])
    with pytest.raises(DataError, match=r"without ground truth \(3.png\)"):
        _run(tmp_path, mx)


def test_missing_prediction_folder_is_an_error(tmp_path, mx) -> None:
    mx.make_sequence(tmp_path / "gt", n=1)
    with pytest.raises(DataError, match="prediction folder not found"):
        _run(tmp_path, mx)


def test_missing_gt_image_is_a_recorded_failure(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=2)
    for k, img in imgs.items():
        mx.write_png(tmp_path / "pred" / f"{k}.png", img)
    (tmp_path / "gt" / "image" / "2.png").unlink()
    rec = _run(tmp_path, mx)
    assert rec["n_scored"] == 1 and rec["failed"]["2"].startswith("ground truth:")


def test_grey_prediction_is_rejected_with_the_file(tmp_path, mx) -> None:
    mx.make_sequence(tmp_path / "gt", n=1)
    mx.write_png(tmp_path / "pred" / "1.png", np.zeros((64, 64), np.uint8))
    rec = _run(tmp_path, mx)
    assert "1-channel image; expected RGB" in rec["failed"]["1"]


@pytest.mark.parametrize("scorer", ["renderme-imavatar", "renderme-pointavatar", "unified"])
def test_one_channel_mask_equals_three_channel_mask(tmp_path, mx, scorer) -> None:
    out = {}
    for grey in (False, True):
        root = tmp_path / str(grey)
        imgs = mx.make_sequence(root / "gt", n=1, grey_mask=grey)
        mx.write_png(root / "pred" / "1.png", np.clip(imgs[1].astype(int) + 9, 0, 255).astype(np.uint8))
        out[grey] = _run(root, mx, scorer)["frames"]["1"]
    assert out[True] == out[False]


def test_empty_mask_is_a_failure_not_a_nan(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=1)
    mx.write_png(tmp_path / "gt" / "mask" / "1.png", np.zeros((64, 64), np.uint8))
    mx.write_png(tmp_path / "pred" / "1.png", imgs[1])
    rec = _run(tmp_path, mx)
    assert rec["n_scored"] == 0 and "non-finite" in rec["failed"]["1"]


def test_epoch_folder_chosen_numerically(tmp_path, mx) -> None:
    imgs = mx.make_sequence(tmp_path / "gt", n=1)
    mx.write_png(tmp_path / "pred" / "epoch_9" / "rgb" / "1.png", np.zeros_like(imgs[1]))
    mx.write_png(tmp_path / "pred" / "epoch_10" / "rgb" / "1.png", imgs[1])
    rec = _run(tmp_path, mx, "unified")
    assert rec["epoch"] == 10 and rec["frames"]["1"]["l1"] == 0


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path, mx) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    mx.make_sequence(tmp_path / "gt", n=1)
    (tmp_path / "pred").mkdir()
    with pytest.raises(NesbenchError, match="no CUDA device"):
        score_sequence(tmp_path / "pred", tmp_path / "gt", "unified", device="cuda", lpips_backbone=mx.STUB)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_matches_cpu(mx) -> None:
    for scorer in ("renderme-imavatar", "renderme-pointavatar", "unified"):
        a, b = (
            score_sequence(mx.FIXTURE / "pred", mx.FIXTURE / "gt", scorer, device=d, lpips_backbone=mx.STUB)
            for d in ("cpu", "cuda")
        )
        for k in a["frames"]:
            for m, v in a["frames"][k].items():
                assert b["frames"][k][m] == pytest.approx(v, abs=1e-5, rel=1e-5), (scorer, k, m)
