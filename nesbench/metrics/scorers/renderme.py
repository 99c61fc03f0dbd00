"""The two legacy scorers, each reproducing one published code path of the RenderMe-360 benchmark at 512 px.

- ``renderme-imavatar``: the RenderMe-360 IMavatar overlay ``metrics.py`` (published IMavatar numbers).
- ``renderme-pointavatar``: PointAvatar ``utils/metrics.py`` ``run(..., no_cloth=True)`` (published PointAvatar).
"""

from __future__ import annotations

import torch

from nesbench.metrics.precision import batch_sum, quantise, unit
from nesbench.metrics.registry import register_scorer
from nesbench.metrics.scorers.base import KEYPOINT, ScoreContext, Scorer, Tensors, cloth_free
from nesbench.metrics.spec import metric_specs
from nesbench.metrics.ssim import legacy_filter2d_ssim, ssim


@register_scorer
class RenderMeIMavatarScorer(Scorer):
    """RenderMe-360 IMavatar overlay metrics.py: GT composited on white with mask channel 0 (soft), masked MAE over
    the mask area reported as L1; PSNR/SSIM(MATLAB-style)/LPIPS-alex on the full image after uint8 truncation."""

    name = "renderme-imavatar"
    version = "1.1"  # 1.1: always 512 px, SSIM with cv2.filter2D, frames without a FAN face dropped
    fixed_resolution = 512
    resize = "legacy"
    drops_frames_without_face = True
    metrics = metric_specs(
        l1="reported 'L1' = mae: masked MAE / (3 x mask area), GT composited on white",
        mae="sum(mask*|pred-gt|) / (3*sum(mask)), [0,1] units",
        mse="sum(mask*(pred-gt)^2) / (3*sum(mask))",
        psnr="10*log10(1/MSE) over the full uint8-truncated image (white background included)",
        ssim="MATLAB-style SSIM, Gaussian 11/1.5 (cv2.filter2D), constants on 0..255, 5-px valid crop, full image",
        lpips="LPIPS v0.1 alex on the full uint8 image mapped to [-1, 1]",
        keypoint=KEYPOINT,
    )

    SSIM_FILTERS = ("filter2d", "separable")

    def __init__(self, resolution: int = 512, ssim_backend: str = "auto", ssim_filter: str = "filter2d"):
        """``ssim_filter``: 'filter2d' = the benchmark's cv2.filter2D on the host, on every device (default);
        'separable' = the shared separable/torch SSIM (faster, on the GPU; differs by up to ~3e-4 in float32,
        docs/FIDELITY.md)."""
        super().__init__(resolution, ssim_backend)
        if ssim_filter not in self.SSIM_FILTERS:
            raise ValueError(f"ssim_filter {ssim_filter!r}; expected one of {', '.join(self.SSIM_FILTERS)}")
        self.ssim_filter = ssim_filter

    @property
    def graphable(self) -> bool:
        return self.ssim_filter != "filter2d"

    def select_gt(self, image: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None) -> Tensors:
        return {"gt": image, "mask": mask[..., :1]}

    def score(self, gt: Tensors, pred: Tensors, ctx: ScoreContext) -> Tensors:
        p, g, m = self.composites(gt, pred)
        nnz = batch_sum(m) * 3
        d = p - g
        mae = batch_sum(d.abs().mul_(m)) / nnz
        mse = batch_sum(d.square_().mul_(m)) / nnz
        pq8, gq8 = quantise(p), quantise(g)
        pq, gq = pq8.float(), gq8.float()
        # integer differences squared are exact in float32; summed exactly in float64 (no float64 image copies)
        sq = batch_sum((pq - gq).square_())
        out = {"l1": mae, "mae": mae, "mse": mse, "psnr": 10 * torch.log10(255.0**2 * pq[0].numel() / sq)}
        with ctx.timer("ssim"):
            if self.ssim_filter == "filter2d":
                out["ssim"] = legacy_filter2d_ssim(pq, gq)
            else:
                out["ssim"] = ssim(pq, gq, 255.0, self.ssim_backend)
        if ctx.lpips is not None:
            to_pm1 = lambda x: unit(x) * 2 - 1.0  # noqa: E731  (legacy: x.float() / 255. * 2 - 1.)
            out["lpips"] = ctx.lpips_distance("lpips", lambda: to_pm1(gq8), lambda: to_pm1(pq8))
        return out

    @staticmethod
    def composites(gt: Tensors, pred: Tensors) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(prediction, GT composited on white with the soft mask channel 0, that mask), float32 in [0, 1], with
        the legacy float32 formula ``gt * mask + 1.0 * (1 - mask)``. ``quantise`` of the first two gives the uint8
        images that PSNR/SSIM/LPIPS see."""
        p, m = unit(pred["pred"]), unit(gt["mask"])
        return p, unit(gt["gt"]) * m + 1.0 * (1 - m), m


@register_scorer
class RenderMePointAvatarScorer(Scorer):
    """PointAvatar utils/metrics.py with no_cloth=True on rgb_erode_dilate renders: mask channel 0 with semantic
    labels 15/16 removed, errors summed over the mask but divided by ALL pixels, reported 'L1' = squared error."""

    name = "renderme-pointavatar"
    version = "1.1"  # 1.1: always 512 px, as PointAvatar's utils/metrics.py
    needs_semantic = True
    fixed_resolution = 512
    resize = "legacy"
    semantic_resize = "bilinear"
    semantic_use = "the no_cloth mask"
    metrics = metric_specs(
        l1="reported 'L1' = l1_l: sum(mask*(pred-gt)^2) / (3*H*W) (squared error, all pixels)",
        mae="sum(mask*|pred-gt|) / (3*H*W)",
        mse="sum(mask*(pred-gt)^2) / (3*H*W) (equal to l1)",
        psnr="20*log10(1/(sqrt(mse)+1e-8)), mse over all pixels",
        ssim="Gaussian 11/1.5 valid SSIM, L=1, both images zeroed where mask==0",
        lpips="LPIPS v0.1 alex, normalize=True, on pred*mask and gt*mask",
    )

    def select_gt(self, image: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None) -> Tensors:
        assert labels is not None
        # every mask channel: the GT composite uses them (a 1-channel mask broadcasts to the same values)
        return {"gt": image, "mask": mask, "labels": labels[..., None]}

    def score(self, gt: Tensors, pred: Tensors, ctx: ScoreContext) -> Tensors:
        p, mask3 = unit(pred["pred"]), unit(gt["mask"])
        g = unit(gt["gt"]) * mask3 + 1.0 * (
            1 - mask3
        )  # GT composited with the full 3-channel mask, as upstream
        # channel 0 with the cloth labels zeroed (x*1 = x, x*0 = 0: exact)
        m = mask3[:, :1] * cloth_free(gt["labels"])
        nnz = float(3 * m.shape[2] * m.shape[3])
        d = p - g
        mae = batch_sum(d.abs().mul_(m)) / nnz
        sq = batch_sum(d.square_().mul_(m)) / nnz
        out = {"l1": sq, "mae": mae, "mse": sq}
        out["psnr"] = 20 * torch.log10(1.0 / (torch.sqrt(sq) + 1e-8))
        keep = m != 0
        zero = torch.zeros((), dtype=p.dtype, device=p.device)
        with ctx.timer("ssim"):
            out["ssim"] = ssim(torch.where(keep, p, zero), torch.where(keep, g, zero), 1.0, self.ssim_backend)
        if ctx.lpips is not None:
            out["lpips"] = ctx.lpips_distance("lpips", lambda: g * m * 2 - 1, lambda: p * m * 2 - 1)
        return out
