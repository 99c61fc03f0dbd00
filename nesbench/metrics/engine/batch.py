"""The typed units the engine moves between its steps: a decoded :class:`Frame`, a :class:`Failure` with its
reason, and a :class:`ScorerBatch` (one scorer x one method on one batch, stacked for the device)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from nesbench.metrics.scorers import Scorer

Inputs = dict[str, np.ndarray]  # a scorer's prepared inputs of one frame (HxWxC arrays at its resolution)


@dataclass(frozen=True)
class Failure:
    """Why a frame cannot be scored (by one scorer, for one method): recorded in the results as it is."""

    reason: str


@dataclass
class Frame:
    """Frame ``k`` of a batch, decoded once and prepared for every scorer and method.

    ``gt``: scorer -> its GT inputs or a :class:`Failure`; empty when ``gt_in_batch`` (the GT of the whole batch is
    read from the GT cache straight into the batch tensors). ``pred``: method -> scorer -> inputs or Failure; a
    method without a prediction of frame k is absent (already recorded as missing). ``rgb``: method -> the decoded
    prediction, kept only for the keypoint detectors. ``kps``: the GT keypoints (68x2 in [-1, 1], or None).
    ``slot``: method -> the row of the method's batch buffer the prediction was decoded into (no copy needed)."""

    k: int
    gt_in_batch: bool = False
    gt: dict[str, Inputs | Failure] = field(default_factory=dict)
    pred: dict[str, dict[str, Inputs | Failure]] = field(default_factory=dict)
    rgb: dict[str, np.ndarray | None] = field(default_factory=dict)
    kps: np.ndarray | None = None
    slot: dict[str, np.ndarray] = field(default_factory=dict)

    def failure(self, scorer: str, method: str) -> Failure | None:
        """Why this frame cannot be scored by ``scorer`` for ``method`` (GT first), or None."""
        g = None if self.gt_in_batch else self.gt[scorer]
        if isinstance(g, Failure):
            return g
        p = self.pred[method][scorer]
        return p if isinstance(p, Failure) else None


@dataclass
class ScorerBatch:
    """One scorer x one method on one batch: the frames that can be scored, the failures, the stacked host tensors
    (B x C x H x W; GT shared by the methods with the same frames, ``key`` = their frame numbers)."""

    scorer: Scorer
    method: str
    ok: list[Frame]
    failed: list[tuple[int, str]]
    key: tuple[int, ...]
    gt: dict[str, torch.Tensor]
    pred: dict[str, torch.Tensor]
