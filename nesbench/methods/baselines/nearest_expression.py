"""Nearest-expression retrieval: copy the training frame whose FLAME expression + jaw pose is nearest.

Training frames are used as avatar methods see them: composited on white with their soft mask.

Distance: Euclidean on [expression(50), jaw(3)] after standardising each dimension with the training set's
mean/std, so the jaw (radians) and expression coefficients weigh comparably.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from nesbench.methods.baselines.common import Baseline, standardizer
from nesbench.methods.sequence_data import HEAD, JAW, SequenceData, read_foreground
from nesbench.methods.spec import Job


def expression_features(data: SequenceData) -> np.ndarray:
    return np.concatenate([data.expression, data.pose[:, JAW], data.pose[:, HEAD]], axis=1)


class NearestExpression(Baseline):
    """Retrieval baseline: no learning beyond an index of the training frames."""

    def fit(self, job: Job, seqs: list[SequenceData]) -> dict[str, np.ndarray]:
        feats = np.concatenate([expression_features(s) for s in seqs])
        paths = [f"{s.folder.relative_to(job.data_root)}|{k}" for s in seqs for k in s.frames]
        mean, std = standardizer(feats)
        return {"features": (feats - mean) / std, "mean": mean, "std": std, "paths": np.array(paths)}

    def predictor(self, job: Job, model: dict[str, np.ndarray]) -> Callable[[SequenceData], list[np.ndarray]]:
        tree = cKDTree(model["features"])

        def predict(data: SequenceData) -> list[np.ndarray]:
            _, idx = tree.query((expression_features(data) - model["mean"]) / model["std"])
            refs = [str(model["paths"][i]).split("|") for i in np.atleast_1d(idx)]
            return [read_foreground(job.data_root / folder, int(k)) for folder, k in refs]

        return predict

    def describe(self, model: dict[str, np.ndarray]) -> dict:
        return {
            "train_frames": len(model["paths"]),
            "features": "expression(50)+jaw(3)+global(3)+neck(3), standardised",
        }
