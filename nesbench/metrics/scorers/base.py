"""The scorer contract: what a metric author implements, and what the engine guarantees.

A scorer is a named, versioned metric definition (:mod:`nesbench.metrics.spec` declares its columns). The engine
(:mod:`nesbench.metrics.engine`) decodes frames, brings them to the scorer's resolution by the rules it declares
(``resize``, ``mask_channels``, ``semantic_resize``; :mod:`nesbench.metrics.engine.prepare`), stacks them into
batches of torch tensors, lets ``select_gt`` pick the scorer's GT inputs and calls ``score(gt, pred, ctx)`` on the
scoring device. A scorer sees torch tensors only. A metric author reads this module,
:mod:`nesbench.metrics.spec` and one scorer module.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import cv2
import numpy as np
import torch

from nesbench.cli_args import MAX_RESOLUTION, MIN_RESOLUTION
from nesbench.errors import ConfigError
from nesbench.metrics.frames import CLOTH_LABELS
from nesbench.metrics.images import legacy_resize_255, resize_to_255
from nesbench.metrics.spec import MetricSpec

if TYPE_CHECKING:
    from nesbench.metrics.lpips_alex import LpipsAlex

Tensors = dict[str, torch.Tensor]
Timer = Callable[[str], AbstractContextManager]

# Scorer.resize -> the per-frame resize to the scorer's resolution, on the 0..255 scale (uint8 when no resize is
# needed, float32 after one): 'legacy' = the benchmark's cv2 bilinear rule (only when the width differs);
# 'area' = area when shrinking, bilinear when enlarging, non-square frames rejected (the unified scorer).
RESIZES: dict[str, Callable] = {"legacy": legacy_resize_255, "area": resize_to_255}
# Scorer.semantic_resize -> how the GT face-parsing labels reach the resolution: 'nearest' = nearest neighbour, the
# map must have its image's size (the unified scorer); 'bilinear' = cv2 bilinear on the float labels when the size
# differs (PointAvatar's rule).
SEMANTIC_RESIZES = ("nearest", "bilinear")


def _no_timer(stage: str) -> AbstractContextManager:
    return nullcontext()


def cloth_free(labels: torch.Tensor) -> torch.Tensor:
    """True where the face-parsing label is not cloth (15/16), the ``~np.isin(labels, (15, 16))`` of PointAvatar's
    no_cloth mask; exact equality on the (float or integer) label values, computed on the scoring device."""
    return (labels != CLOTH_LABELS[0]) & (labels != CLOTH_LABELS[1])


@dataclass
class ScoreContext:
    """What ``Scorer.score`` may use besides its inputs.

    ``lpips``: the LPIPS network (None: LPIPS is not computed; leave the metric out). ``memo``: private to one
    batch of GT frames and shared by every method scored against it (GT LPIPS features are computed once).
    ``timer``: ``with ctx.timer("ssim"): ...`` attributes time to a stage (scripts/bench_metrics.py)."""

    lpips: LpipsAlex | None = None
    memo: dict = field(default_factory=dict)
    timer: Timer = _no_timer

    def lpips_distance(
        self, key: str, gt_img: Callable[[], torch.Tensor], pred_img: Callable[[], torch.Tensor]
    ) -> torch.Tensor:
        """LPIPS distance of the images in [-1, 1] that ``pred_img()`` and ``gt_img()`` build; the GT features are
        memoised under ``key`` (callables, so that the GT image is not even built when they are)."""
        assert self.lpips is not None
        with self.timer("lpips"):
            if key not in self.memo:
                self.memo[key] = self.lpips.features(gt_img())
            return self.lpips.distance(self.lpips.features(pred_img()), self.memo[key])


class Scorer:
    """A named, versioned metric definition; subclasses register with ``@register_scorer``.

    Per frame (the engine's decode threads): the GT image, its mask (``mask_channels`` of them: 1 = channel 0
    only) and, for a scorer that ``needs_semantic``, its face-parsing labels are brought to the scorer's resolution
    by its ``resize`` and ``semantic_resize`` rules; a frame that cannot be scored is recorded as a failure.

    Per batch, torch only: ``select_gt(image, mask, labels)`` picks the scorer's GT inputs from the stacked
    components (B x H x W x C, on the host). ``score(gt, pred, ctx)`` gets them, and ``pred`` (the render), as
    B x C x H x W tensors on the scoring device (uint8 0..255, or float32 0..255 after a resize) and returns, per
    metric it computes, one floating tensor of B values on that device. The engine adds
    ``keypoint``/``keypoint_dlib`` (detectors run on the host), caps PSNR and records non-finite values as failures.

    The capture rule (``graphable`` scorers; the engine replays them as CUDA graphs): ``score`` must run on the
    device only, with static shapes: no host synchronisation (``.item()``, ``.tolist()``, ``.cpu()``,
    ``bool(tensor)``, data-dependent shapes such as boolean indexing), no tensors made on the host per call (make
    constants on the device once), no Python branches on tensor values. Values must not depend on the batch: a
    frame scores the same alone or in any batch. A scorer that cannot obey returns ``graphable = False`` (it is then
    scored eagerly). tests/metrics/test_scorer_contract.py checks all of this for every registered scorer on CPU.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    metrics: ClassVar[dict[str, MetricSpec]]
    needs_semantic: ClassVar[bool] = False
    resize: ClassVar[str] = "area"  # a key of RESIZES
    mask_channels: ClassVar[int] = 3  # GT mask channels resized and stacked: 1 = channel 0 only, 3 = all
    semantic_resize: ClassVar[str | None] = None  # one of SEMANTIC_RESIZES when needs_semantic
    semantic_use: ClassVar[str] = ""  # what the labels are for, in the failure of a frame without them
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
        """Whether ``score`` obeys the capture rule (see the class docstring)."""
        return True

    @property
    def needs_keypoints(self) -> bool:
        return "keypoint" in self.metrics

    def select_gt(self, image: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None) -> Tensors:
        """The scorer's GT inputs from batches of the prepared components: image (B x H x W x 3), mask
        (B x H x W x ``mask_channels``) and labels (B x H x W; None when not needed), all at its resolution; views,
        not copies, where they suffice. The result's tensors are B x H x W x C."""
        raise NotImplementedError

    def score(self, gt: Tensors, pred: Tensors, ctx: ScoreContext) -> Tensors:
        raise NotImplementedError

    def keypoint_image(self, rgb: np.ndarray) -> np.ndarray:
        """The prediction as FAN sees it: uint8 RGB resized (cv2 bilinear) to res when its width differs."""
        return cv2.resize(rgb, (self.resolution, self.resolution)) if rgb.shape[1] != self.resolution else rgb

    def keypoint_targets(self, kps: np.ndarray) -> np.ndarray:
        """FLAME keypoints in [-1, 1] -> integer pixels at res, as ``((kp + 1) * res / 2).astype(int)``."""
        return ((kps + 1.0) * self.resolution / 2).astype(int)


KEYPOINT = (
    "mean distance in pixels at the evaluation resolution between FAN 2D landmarks detected on the prediction "
    "and the first 68 FLAME keypoints of flame_params.json"
)
KEYPOINT_DLIB = (
    "like keypoint, but with dlib's HOG face detector and 68-point shape predictor (offline; not FAN's values, "
    "never mixed with them)"
)
