"""Per-frame preparation (decode threads, numpy): each scorer's inputs of one frame brought to its resolution by
the rules it declares (``Scorer.resize``, ``mask_channels``, ``semantic_resize``), and their stacking into batch
tensors for ``Scorer.select_gt`` and ``Scorer.score``, which see torch tensors only.

The GT components keep the GT cache's names: ``image`` (H x W x 3), ``mask`` (H x W x ``mask_channels``) and
``semantic`` (H x W face-parsing labels, only for scorers that need them).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from nesbench.metrics.frames import RawGt
from nesbench.metrics.images import FrameError
from nesbench.metrics.scorers import RESIZES, Scorer

Arrays = dict[str, np.ndarray]


def resized(scorer: Scorer, img: np.ndarray, path: object) -> np.ndarray:
    """``img`` at the scorer's resolution by its declared ``resize`` rule (uint8 0..255 when no resize is needed,
    float32 0..255 after one)."""
    return RESIZES[scorer.resize](img, scorer.resolution, path)


def gt_arrays(scorer: Scorer, raw: RawGt) -> Arrays:
    """The GT components of one frame at the scorer's resolution; FrameError for a frame it cannot score (a missing
    semantic map is reported first, then the image, the mask and the semantic map's size)."""
    if scorer.needs_semantic and raw.semantic is None:
        raise FrameError(f"{raw.semantic_error}; {scorer.semantic_use} needs semantic/<k>.png")
    out = {"image": resized(scorer, raw.image, raw.paths["image"])}
    mask = resized(scorer, raw.mask[:, :, 0] if scorer.mask_channels == 1 else raw.mask, raw.paths["mask"])
    out["mask"] = mask[:, :, None] if mask.ndim == 2 else mask
    if scorer.needs_semantic:
        out["semantic"] = _semantic_at(scorer, raw)
    return out


def _semantic_at(scorer: Scorer, raw: RawGt) -> np.ndarray:
    sem, res = raw.semantic, scorer.resolution
    assert sem is not None
    if scorer.semantic_resize == "nearest":  # labels stay labels; the map must match its image
        if sem.shape != raw.image.shape[:2]:
            raise FrameError(
                f"semantic map of frame {raw.k} is {sem.shape[1]}x{sem.shape[0]}, not the image size"
            )
        return sem if sem.shape[0] == res else cv2.resize(sem, (res, res), interpolation=cv2.INTER_NEAREST)
    if (
        scorer.semantic_resize == "bilinear"
    ):  # PointAvatar: bilinear on float labels (a same-size resize is skipped)
        return sem if sem.shape == (res, res) else cv2.resize(sem.astype(np.float32), (res, res))
    raise ValueError(
        f"{scorer.name}: semantic_resize {scorer.semantic_resize!r}; expected 'nearest' or 'bilinear'"
    )


def pred_arrays(scorer: Scorer, rgb: np.ndarray, path: object) -> Arrays:
    """The prediction input of one frame: the RGB render at the scorer's resolution."""
    return {"pred": resized(scorer, rgb, path)}


def channels_first(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """B x H x W x C tensors -> B x C x H x W views (channels_last memory, no copy), as ``Scorer.score`` takes them."""
    return {n: t.permute(0, 3, 1, 2) for n, t in batch.items()}


def stack(arrays: list[np.ndarray], pin_memory: bool = False) -> torch.Tensor:
    """Frames of one component -> one B x ... host tensor, in a single copy (pinned for an asynchronous copy to a
    GPU). uint8 unless a frame was resized (float32 on the same 0..255 scale, or float labels): np.stack casts
    exactly."""
    dtype = torch.uint8 if all(a.dtype == np.uint8 for a in arrays) else torch.float32
    out = torch.empty((len(arrays), *arrays[0].shape), dtype=dtype, pin_memory=pin_memory)
    np.stack(arrays, out=out.numpy())
    return out


def score_inputs(
    scorer: Scorer, gts: list[Arrays], preds: list[Arrays]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """What ``scorer.score`` gets for these prepared frames (:func:`gt_arrays`, :func:`pred_arrays`), stacked as
    the engine stacks them: (GT inputs, prediction inputs), B x C x H x W on the host."""
    comps = {n: stack([g[n] for g in gts]) for n in gts[0]}
    gt = scorer.select_gt(comps["image"], comps["mask"], comps.get("semantic"))
    return channels_first(gt), channels_first({n: stack([p[n] for p in preds]) for n in preds[0]})
