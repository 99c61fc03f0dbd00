"""The three scorers. Each turns decoded frames into per-frame metric values, in batches, on CPU or GPU.

- ``renderme-imavatar``: the RenderMe-360 IMavatar overlay ``metrics.py`` (published IMavatar numbers).
- ``renderme-pointavatar``: PointAvatar ``utils/metrics.py`` ``run(..., no_cloth=True)`` (published PointAvatar).
- ``unified``: one documented definition for every method (docs/METRICS.md).
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
import torch

from nesbench.cli_args import MAX_RESOLUTION, MIN_RESOLUTION
from nesbench.errors import ConfigError
from nesbench.metrics.frames import CLOTH_LABELS, RawGt
from nesbench.metrics.images import FrameError, legacy_resize_255, resize_to_255
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.metrics.precision import batch_sum, quantise, unit
from nesbench.metrics.registry import register_scorer
from nesbench.metrics.spec import MetricSpec, metric_specs
from nesbench.metrics.ssim import legacy_filter2d_ssim, ssim, ssim_map
from nesbench.metrics.timing import NO_TIMER, StageTimer

Tensors = dict[str, torch.Tensor]
Array = np.ndarray | torch.Tensor


def cloth_free(labels: torch.Tensor) -> torch.Tensor:
    """True where the face-parsing label is not cloth (15/16), the ``~np.isin(labels, (15, 16))`` of PointAvatar's
    no_cloth mask; exact equality on the (float or integer) label values, computed on the scoring device."""
    return (labels != CLOTH_LABELS[0]) & (labels != CLOTH_LABELS[1])


class Scorer:
    """A named, versioned metric definition: ``prepare_*`` run per frame in decode threads (numpy),
    ``score`` runs on a batch of tensors (B x C x H x W) and returns one tensor of B values per metric."""

    name: ClassVar[str]
    version: ClassVar[str]
    metrics: ClassVar[dict[str, MetricSpec]]
    needs_semantic: ClassVar[bool] = False
    # The legacy scorers evaluate at the resolution their benchmark code hard-codes (`res = 512`), whatever the
    # input size or the requested resolution; None: the resolution given (the unified scorer).
    fixed_resolution: ClassVar[int | None] = None
    # renderme-imavatar: a frame on which FAN finds no face is dropped from every metric (the benchmark's rule)
    drops_frames_without_face: ClassVar[bool] = False

    def __init__(self, resolution: int = 512, ssim_backend: str = "auto"):
        """``ssim_backend``: see :func:`nesbench.metrics.ssim.ssim_map`; 'torch' runs the GPU formulas on the CPU
        too (tests use it to prove that the GPU path gives the CPU values). ``resolution`` is ignored by scorers
        with a ``fixed_resolution`` (the legacy ones: 512)."""
        self.resolution = int(self.fixed_resolution or resolution)
        if not MIN_RESOLUTION <= self.resolution <= MAX_RESOLUTION:
            raise ConfigError(
                f"evaluation resolution {self.resolution}px is outside {MIN_RESOLUTION}..{MAX_RESOLUTION} (LPIPS' "
                "AlexNet needs at least 32 px); pass --resolution or set the benchmark's resolution in range"
            )
        self.ssim_backend = ssim_backend

    @property
    def graphable(self) -> bool:
        """Whether ``score`` runs on the device only (so that CUDA graphs can capture it)."""
        return True

    @property
    def needs_keypoints(self) -> bool:
        return "keypoint" in self.metrics

    def prepare_gt(self, raw: RawGt) -> dict[str, np.ndarray]:
        """The scorer's GT inputs of one frame at its resolution (HxWxC arrays): resizing, then :meth:`select_gt`."""
        raise NotImplementedError

    def select_gt(self, image: Array, mask: Array, labels: Array | None) -> dict[str, Array]:
        """The scorer's GT inputs from image (..xHxWx3), mask (..xHxWx1 or 3) and labels (..xHxW, None when not
        needed) already at its resolution; numpy frames or torch batches (the engine's batch path for cached GT)."""
        raise NotImplementedError

    def prepare_pred(self, rgb: np.ndarray, path: object) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def score(
        self,
        gt: Tensors,
        pred: Tensors,
        lpips: LpipsAlex | None,
        gt_cache: dict,
        timer: StageTimer = NO_TIMER,
    ) -> Tensors:
        raise NotImplementedError

    def keypoint_image(self, rgb: np.ndarray) -> np.ndarray:
        """The prediction as FAN sees it: uint8 RGB resized (cv2 bilinear) to res when its width differs."""
        return cv2.resize(rgb, (self.resolution, self.resolution)) if rgb.shape[1] != self.resolution else rgb

    def keypoint_targets(self, kps: np.ndarray) -> np.ndarray:
        """FLAME keypoints in [-1, 1] -> integer pixels at res, as ``((kp + 1) * res / 2).astype(int)``."""
        return ((kps + 1.0) * self.resolution / 2).astype(int)

    @staticmethod
    def _lpips_cached(
        lpips: LpipsAlex, gt_cache: dict, key: str, gt_img, pred_img, timer: StageTimer = NO_TIMER
    ) -> torch.Tensor:
        """LPIPS distance; the GT features are computed once per batch (``gt_cache``) and reused by every method.
        ``gt_img``/``pred_img`` are callables so that the GT input is not even built when cached."""
        with timer("lpips"):
            if key not in gt_cache:
                gt_cache[key] = lpips.features(gt_img())
            return lpips.distance(lpips.features(pred_img()), gt_cache[key])


KEYPOINT = (
    "mean distance in pixels at the evaluation resolution between FAN 2D landmarks detected on the prediction "
    "and the first 68 FLAME keypoints of flame_params.json"
)


KEYPOINT_DLIB = (
    "like keypoint, but with dlib's HOG face detector and 68-point shape predictor (offline; not FAN's values, "
    "never mixed with them)"
)


@register_scorer
class UnifiedScorer(Scorer):
    """One definition for every method (docs/METRICS.md): head mask = soft GT mask without cloth labels 15/16;
    both prediction and GT composited on white with it; errors averaged over the mask area; SSIM averaged over
    the mask; LPIPS-alex on the composites; no quantisation; evaluation at the benchmark resolution."""

    name = "unified"
    version = "1.1"  # 1.1: + keypoint_dlib (the other values are those of 1.0)
    needs_semantic = True
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

    def prepare_gt(self, raw: RawGt) -> dict[str, np.ndarray]:
        res = self.resolution
        if raw.semantic is None:
            raise FrameError(f"{raw.semantic_error}; the unified head mask needs semantic/<k>.png")
        gt = resize_to_255(raw.image, res, raw.paths["image"])
        mask = resize_to_255(raw.mask[:, :, 0], res, raw.paths["mask"])
        sem = raw.semantic
        if sem.shape != raw.image.shape[:2]:
            raise FrameError(
                f"semantic map of frame {raw.k} is {sem.shape[1]}x{sem.shape[0]}, not the image size"
            )
        if sem.shape[0] != res:
            sem = cv2.resize(sem, (res, res), interpolation=cv2.INTER_NEAREST)
        return self.select_gt(gt, mask[:, :, None], sem)

    def select_gt(self, image: Array, mask: Array, labels: Array | None) -> dict[str, Array]:
        return {"gt": image, "mask": mask[..., :1], "labels": labels[..., None]}

    def prepare_pred(self, rgb: np.ndarray, path: object) -> dict[str, np.ndarray]:
        return {"pred": resize_to_255(rgb, self.resolution, path)}

    def score(
        self,
        gt: Tensors,
        pred: Tensors,
        lpips: LpipsAlex | None,
        gt_cache: dict,
        timer: StageTimer = NO_TIMER,
    ) -> Tensors:
        m = unit(gt["mask"]) * cloth_free(gt["labels"])  # head mask: soft matte without cloth labels
        g = unit(gt["gt"]) * m + (1 - m)
        p = unit(pred["pred"]) * m + (1 - m)
        area = batch_sum(m) * 3
        d = p - g
        mae = batch_sum(d.abs().mul_(m)) / area
        mse = batch_sum(d.square_().mul_(m)) / area
        out = {"l1": mae, "mae": mae, "mse": mse, "psnr": 10 * torch.log10(1.0 / mse)}
        with timer("ssim"):
            w = m[:, :, 5:-5, 5:-5]
            smap = ssim_map(p, g, 1.0, self.ssim_backend).mean(dim=1, keepdim=True)
            out["ssim"] = batch_sum(smap * w) / batch_sum(w)
        if lpips is not None:
            out["lpips"] = self._lpips_cached(
                lpips, gt_cache, "lpips", lambda: g * 2 - 1, lambda: p * 2 - 1, timer
            )
        return out


@register_scorer
class RenderMeIMavatarScorer(Scorer):
    """RenderMe-360 IMavatar overlay metrics.py: GT composited on white with mask channel 0 (soft), masked MAE over
    the mask area reported as L1; PSNR/SSIM(MATLAB-style)/LPIPS-alex on the full image after uint8 truncation."""

    name = "renderme-imavatar"
    version = "1.1"  # 1.1: always 512 px, SSIM with cv2.filter2D, frames without a FAN face dropped
    fixed_resolution = 512
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

    def prepare_gt(self, raw: RawGt) -> dict[str, np.ndarray]:
        res = self.resolution
        gt = legacy_resize_255(raw.image, res, raw.paths["image"])
        mask = legacy_resize_255(raw.mask, res, raw.paths["mask"])
        return self.select_gt(gt, mask, None)

    def select_gt(self, image: Array, mask: Array, labels: Array | None) -> dict[str, Array]:
        return {"gt": image, "mask": mask[..., :1]}

    def prepare_pred(self, rgb: np.ndarray, path: object) -> dict[str, np.ndarray]:
        return {"pred": legacy_resize_255(rgb, self.resolution, path)}

    def score(
        self,
        gt: Tensors,
        pred: Tensors,
        lpips: LpipsAlex | None,
        gt_cache: dict,
        timer: StageTimer = NO_TIMER,
    ) -> Tensors:
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
        with timer("ssim"):
            if self.ssim_filter == "filter2d":
                out["ssim"] = legacy_filter2d_ssim(pq, gq)
            else:
                out["ssim"] = ssim(pq, gq, 255.0, self.ssim_backend)
        if lpips is not None:
            to_pm1 = lambda x: unit(x) * 2 - 1.0  # noqa: E731  (legacy: x.float() / 255. * 2 - 1.)
            out["lpips"] = self._lpips_cached(
                lpips, gt_cache, "lpips", lambda: to_pm1(gq8), lambda: to_pm1(pq8), timer
            )
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
    metrics = metric_specs(
        l1="reported 'L1' = l1_l: sum(mask*(pred-gt)^2) / (3*H*W) (squared error, all pixels)",
        mae="sum(mask*|pred-gt|) / (3*H*W)",
        mse="sum(mask*(pred-gt)^2) / (3*H*W) (equal to l1)",
        psnr="20*log10(1/(sqrt(mse)+1e-8)), mse over all pixels",
        ssim="Gaussian 11/1.5 valid SSIM, L=1, both images zeroed where mask==0",
        lpips="LPIPS v0.1 alex, normalize=True, on pred*mask and gt*mask",
    )

    def prepare_gt(self, raw: RawGt) -> dict[str, np.ndarray]:
        res = self.resolution
        if raw.semantic is None:
            raise FrameError(f"{raw.semantic_error}; the no_cloth mask needs semantic/<k>.png")
        gt = legacy_resize_255(raw.image, res, raw.paths["image"])
        mask = legacy_resize_255(raw.mask, res, raw.paths["mask"])
        semantic = raw.semantic
        # bilinear on float labels, as upstream (a same-size resize is the identity, so it is skipped)
        if semantic.shape != (res, res):
            semantic = cv2.resize(semantic.astype(np.float32), (res, res))
        return self.select_gt(gt, mask, semantic)

    def select_gt(self, image: Array, mask: Array, labels: Array | None) -> dict[str, Array]:
        # every mask channel: the GT composite uses them (a 1-channel mask broadcasts to the same values)
        return {"gt": image, "mask": mask, "labels": labels[..., None]}

    def prepare_pred(self, rgb: np.ndarray, path: object) -> dict[str, np.ndarray]:
        return {"pred": legacy_resize_255(rgb, self.resolution, path)}

    def score(
        self,
        gt: Tensors,
        pred: Tensors,
        lpips: LpipsAlex | None,
        gt_cache: dict,
        timer: StageTimer = NO_TIMER,
    ) -> Tensors:
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
        with timer("ssim"):
            out["ssim"] = ssim(torch.where(keep, p, zero), torch.where(keep, g, zero), 1.0, self.ssim_backend)
        if lpips is not None:
            out["lpips"] = self._lpips_cached(
                lpips, gt_cache, "lpips", lambda: g * m * 2 - 1, lambda: p * m * 2 - 1, timer
            )
        return out
