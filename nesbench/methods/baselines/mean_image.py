"""Mean training image: predicts the average training foreground for every test frame.

Not a method anyone would publish, but the number every method must beat: on held-out expressions it is a strong
PSNR/L1 baseline (blur is cheap under squared error), which is why it is worth a row in the leaderboard.
"""

from __future__ import annotations

import numpy as np

from nesbench.methods.baselines.common import (
    is_trained,
    load_model,
    render_sequences,
    save_model,
    training_sequences,
)
from nesbench.methods.sequence_data import SequenceData
from nesbench.methods.spec import Job


class MeanImage:
    """The average of the training frames composited on white."""

    def prepare(self, job: Job) -> None:
        job.work_dir.mkdir(parents=True, exist_ok=True)

    def train(self, job: Job) -> None:
        if is_trained(job):
            return
        seqs = training_sequences(job)
        total, n = None, 0
        for s in seqs:
            for k in s.frames:
                img = s.foreground(k).astype(np.float64)
                total = img if total is None else total + img
                n += 1
        save_model(job, mean=(total / n).astype(np.float32), n=np.array(n))

    def render(self, job: Job) -> None:
        m = load_model(job)

        def predict(data: SequenceData) -> list[np.ndarray]:
            return [m["mean"]] * len(data.frames)

        render_sequences(job, predict, {"train_frames": int(m["n"])})
