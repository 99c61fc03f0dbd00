"""``unified``: one documented definition for every method (docs/METRICS.md)."""

from __future__ import annotations

import torch

from nesbench.metrics.precision import batch_sum, unit
from nesbench.metrics.registry import register_scorer
from nesbench.metrics.scorers.base import (
    KEYPOINT,
    KEYPOINT_DLIB,
    ScoreContext,
    Scorer,
    Tensors,
    cloth_free,
)
from nesbench.metrics.spec import metric_specs
from nesbench.metrics.ssim import ssim_map


@register_scorer
class UnifiedScorer(Scorer):
    """One definition for every method (docs/METRICS.md): head mask = soft GT mask without cloth labels 15/16;
    both prediction and GT composited on white with it; errors averaged over the mask area; SSIM averaged over
    the mask; LPIPS-alex on the composites; no quantisation; evaluation at the benchmark resolution."""

    name = "unified"
    version = "1.1"  # 1.1: + keypoint_dlib (the other values are those of 1.0)
    needs_semantic = True
    resize = "area"
    mask_channels = 1
    semantic_resize = "nearest"
    semantic_use = "the unified head mask"
    metrics = metric_specs(
        l1="masked MAE: sum(m*|P-G|) / (3*sum(m)) on the composites, [0,1] units",
        mae="same as l1",
        mse="sum(m*(P-G)^2) / (3*sum(m)) on the composites",
        psnr="10*log10(1/mse), mse over the head mask",
        ssim="Gaussian 11/1.5 valid SSIM (L=1) of the composites, mask-weighted mean of the map",
        lpips="LPIPS v0.1 alex on the composites in [-1, 1]",
        keypoint=KEYPOINT,
        keypoint_dlib=KEYPOINT_DLIB,
    )

    def select_gt(self, image: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None) -> Tensors:
        assert labels is not None
        return {"gt": image, "mask": mask[..., :1], "labels": labels[..., None]}

    def score(self, gt: Tensors, pred: Tensors, ctx: ScoreContext) -> Tensors:
        m = unit(gt["mask"]).mul_(cloth_free(gt["labels"]))  # head mask: soft matte without cloth labels
        background = 1 - m
        # composites on white, x * m + (1 - m), computed in place in the fresh float copies that unit() makes
        g = unit(gt["gt"]).mul_(m).add_(background)
        p = unit(pred["pred"]).mul_(m).add_(background)
        del background
        area = batch_sum(m) * 3
        d = p - g
        e = torch.abs(d)
        mae = batch_sum(e.mul_(m)) / area
        mse = batch_sum(d.square_().mul_(m)) / area
        del d, e
        out = {"l1": mae, "mae": mae, "mse": mse, "psnr": 10 * torch.log10(1.0 / mse)}
        with ctx.timer("ssim"):
            w = m[:, :, 5:-5, 5:-5]
            smap = ssim_map(p, g, 1.0, self.ssim_backend).mean(dim=1, keepdim=True)
            out["ssim"] = batch_sum(smap.mul_(w)) / batch_sum(w)
        if ctx.lpips is not None:
            # the composites are not used after LPIPS: mapped to [-1, 1] in place (x * 2 - 1, the same two ops)
            out["lpips"] = ctx.lpips_distance("lpips", lambda: g.mul_(2).sub_(1), lambda: p.mul_(2).sub_(1))
        return out
