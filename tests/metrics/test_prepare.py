"""nesbench.metrics.engine.prepare: each scorer's GT and prediction frames at its resolution by the rules it
declares, the failures of frames it cannot score, and the torch batches select_gt and score see."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from nesbench.metrics.engine.prepare import gt_arrays, pred_arrays, score_inputs
from nesbench.metrics.frames import RawGt
from nesbench.metrics.images import FrameError
from nesbench.metrics.registry import get_scorer
from nesbench.metrics.scorers import UnifiedScorer


def _raw(
    h: int, w: int | None = None, semantic: bool = True, sem_shape: tuple[int, int] | None = None
) -> RawGt:
    w = w or h
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.repeat(rng.integers(0, 256, (h, w, 1), dtype=np.uint8), 3, axis=2)
    sem = rng.integers(0, 20, sem_shape or (h, w), dtype=np.uint8) if semantic else None
    err = None if semantic else "semantic/1.png: missing"
    return RawGt(1, image, mask, sem, err, None, {"image": "image/1.png", "mask": "mask/1.png"})


def test_components_at_the_resolution_are_the_decoded_frames() -> None:
    raw = _raw(64)
    u = gt_arrays(get_scorer("unified", resolution=64), raw)
    assert np.shares_memory(u["image"], raw.image) and np.shares_memory(u["mask"], raw.mask)
    assert u["mask"].shape == (64, 64, 1) and u["semantic"] is raw.semantic
    p = gt_arrays(get_scorer("renderme-pointavatar"), _raw(512))
    assert p["mask"].shape == (512, 512, 3)
    assert "semantic" not in gt_arrays(get_scorer("renderme-imavatar"), _raw(512, semantic=False))


def test_resized_by_the_declared_rules() -> None:
    raw = _raw(128)
    u = gt_arrays(get_scorer("unified", resolution=64), raw)
    assert u["image"].dtype == np.float32 and u["image"].shape == (64, 64, 3)
    assert u["mask"].shape == (64, 64, 1) and u["semantic"].dtype == np.uint8  # nearest: labels stay labels
    assert set(np.unique(u["semantic"])) <= set(np.unique(raw.semantic))
    p = gt_arrays(get_scorer("renderme-pointavatar"), _raw(256))
    assert p["semantic"].dtype == np.float32 and p["semantic"].shape == (512, 512)  # bilinear on float labels
    assert pred_arrays(get_scorer("unified", resolution=64), raw.image, "1.png")["pred"].shape == (64, 64, 3)


@pytest.mark.parametrize(
    ("scorer", "raw", "message"),
    [
        (
            "unified",
            _raw(64, semantic=False),
            "semantic/1.png: missing; the unified head mask needs semantic",
        ),
        (
            "renderme-pointavatar",
            _raw(512, semantic=False),
            "missing; the no_cloth mask needs semantic/<k>.png",
        ),
        ("unified", _raw(64, sem_shape=(32, 32)), "semantic map of frame 1 is 32x32, not the image size"),
        ("unified", _raw(64, 48), "image/1.png: 48x64 image is not square"),
    ],
)
def test_frames_a_scorer_cannot_score(scorer: str, raw: RawGt, message: str) -> None:
    with pytest.raises(FrameError, match=re.escape(message)):
        gt_arrays(get_scorer(scorer, resolution=64), raw)


def test_an_unknown_semantic_rule_is_an_error() -> None:
    class Odd(UnifiedScorer):
        semantic_resize = "bicubic"

    with pytest.raises(ValueError, match="semantic_resize 'bicubic'"):
        gt_arrays(Odd(64), _raw(64))


def test_scorers_see_torch_batches_in_channels_last_memory() -> None:
    s = get_scorer("unified", resolution=64)
    raws = [_raw(64) for _ in range(3)]
    gt, pred = score_inputs(s, [gt_arrays(s, r) for r in raws], [pred_arrays(s, r.image, "p") for r in raws])
    assert set(gt) == {"gt", "mask", "labels"} and set(pred) == {"pred"}
    for t in (*gt.values(), *pred.values()):
        assert isinstance(t, torch.Tensor) and t.shape[0] == 3 and t.shape[2:] == (64, 64)
    assert gt["gt"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(gt["labels"][1, 0], torch.from_numpy(raws[1].semantic))
