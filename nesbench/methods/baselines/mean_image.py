"""Mean training image: predicts the average training foreground for every test frame.

Not a method anyone would publish, but the number every method must beat: on held-out expressions it is a strong
PSNR/L1 baseline (blur is cheap under squared error), which is why it is worth a row in the leaderboard.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nesbench.methods.baselines.common import Baseline
from nesbench.methods.sequence_data import SequenceData
from nesbench.methods.spec import Job


class MeanImage(Baseline):
    """The average of the training frames composited on white."""

    def fit(self, job: Job, seqs: list[SequenceData]) -> dict[str, np.ndarray]:
        total, n = None, 0
        for s in seqs:
            for k in s.frames:
                img = s.foreground(k).astype(np.float64)
                total = img if total is None else total + img
                n += 1
        return {"mean": (total / n).astype(np.float32), "n": np.array(n)}

    def predictor(self, job: Job, model: dict[str, np.ndarray]) -> Callable[[SequenceData], list[np.ndarray]]:
        return lambda data: [model["mean"]] * len(data.frames)

    def describe(self, model: dict[str, np.ndarray]) -> dict:
        return {"train_frames": int(model["n"])}
