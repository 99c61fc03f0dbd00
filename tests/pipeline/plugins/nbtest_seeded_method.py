"""A tiny seed-dependent plugin method for the `--seeds N` tests: the mean training image plus noise drawn from
the run's seed (so seeded runs differ, and differ reproducibly).

Registered with NESBENCH_METHODS="seeded-mean=nbtest_seeded_method:SPEC" (this folder on PYTHONPATH).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nesbench.methods.baselines.mean_image import MeanImage
from nesbench.methods.sequence_data import SequenceData
from nesbench.methods.spec import Job, MethodSpec

SPEC = MethodSpec(name="seeded-mean", description="test plugin", target="nbtest_seeded_method:SeededMean")


class SeededMean(MeanImage):
    def predictor(self, job: Job, model: dict[str, np.ndarray]) -> Callable[[SequenceData], list[np.ndarray]]:
        rng = np.random.default_rng(1000 + (job.seed or 0))
        sd = 0.02 * (1 + (job.seed or 0))  # images are floats in [0, 1]
        noisy = np.clip(model["mean"] + rng.normal(0, sd, model["mean"].shape), 0, 1)
        return lambda data: [noisy.astype(np.float32)] * len(data.frames)
