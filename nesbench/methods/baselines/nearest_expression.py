"""Nearest-expression retrieval: copy the training frame whose FLAME expression + jaw pose is nearest.

Training frames are used as avatar methods see them: composited on white with their soft mask.

Distance: Euclidean on [expression(50), jaw(3)] after standardising each dimension with the training set's
mean/std, so the jaw (radians) and expression coefficients weigh comparably.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from nesbench.methods.baselines.common import (
    is_trained,
    load_model,
    render_sequences,
    save_model,
    standardizer,
    training_sequences,
)
from nesbench.methods.sequence_data import HEAD, JAW, SequenceData
from nesbench.methods.spec import Job


def expression_features(data: SequenceData) -> np.ndarray:
    return np.concatenate([data.expression, data.pose[:, JAW], data.pose[:, HEAD]], axis=1)


def load_sequence_ref(folder):
    """A SequenceData handle for reading frames of a training folder (parameters are not needed here)."""
    return SequenceData(folder, (), np.empty((0, 50)), np.empty((0, 15)))


class NearestExpression:
    """Retrieval baseline: no learning beyond an index of the training frames."""

    def prepare(self, job: Job) -> None:
        job.work_dir.mkdir(parents=True, exist_ok=True)

    def train(self, job: Job) -> None:
        if is_trained(job):
            return
        seqs = training_sequences(job)
        feats = np.concatenate([expression_features(s) for s in seqs])
        paths = [f"{s.folder.relative_to(job.data_root)}|{k}" for s in seqs for k in s.frames]
        mean, std = standardizer(feats)
        save_model(job, features=(feats - mean) / std, mean=mean, std=std, paths=np.array(paths))

    def render(self, job: Job) -> None:
        model = load_model(job)
        tree = cKDTree(model["features"])
        paths = model["paths"]

        def predict(data: SequenceData) -> list[np.ndarray]:
            _, idx = tree.query((expression_features(data) - model["mean"]) / model["std"])
            refs = [str(paths[i]).split("|") for i in np.atleast_1d(idx)]
            return [load_sequence_ref(job.data_root / folder).foreground(int(k)) for folder, k in refs]

        render_sequences(
            job,
            predict,
            {"train_frames": len(paths), "features": "expression(50)+jaw(3)+global(3)+neck(3), standardised"},
        )
