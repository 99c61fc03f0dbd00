"""Shared plumbing of the reference baselines: gather training frames, save/load models, render test frames."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from nesbench.fsutil import atomic_path, write_json_atomic
from nesbench.methods.sequence_data import SequenceData, load_sequence, write_rgb
from nesbench.methods.spec import Job

MODEL_FILE = "model.npz"


def training_sequences(job: Job) -> list[SequenceData]:
    return [load_sequence(job.gt_dir(seq)) for seq in job.train_sequences]


def save_model(job: Job, **arrays: np.ndarray) -> Path:
    path = job.work_dir / MODEL_FILE
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_model(job: Job) -> dict[str, np.ndarray]:
    with np.load(job.work_dir / MODEL_FILE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def is_trained(job: Job) -> bool:
    return (job.work_dir / MODEL_FILE).exists()


def render_sequences(job: Job, predict: Callable[[SequenceData], list[np.ndarray]], info: dict) -> None:
    """Render every test sequence with ``predict`` (one image per json frame) into the canonical layout."""
    for seq in tqdm(job.test_sequences, desc=f"render {job.key}", unit="seq", leave=False):
        data = load_sequence(job.gt_dir(seq))
        out = job.pred_dir(seq)
        for k, img in zip(data.frames, predict(data), strict=True):
            write_rgb(out / f"{k}.png", img)
    write_json_atomic(
        job.method_dir / "method_info.json",
        {"method": job.method, "seed": job.seed, "benchmark": job.bench.name, **info},
    )


class Baseline:
    """Skeleton of the reference methods: ``fit`` an npz model on the training sequences, ``predictor`` renders.

    Subclasses implement ``fit(job, seqs) -> arrays``, ``predictor(job, model) -> (SequenceData -> images)`` and
    optionally ``describe(model) -> dict`` (recorded in method_info.json). Training is skipped when the model file
    exists (it is written atomically), so a re-run resumes.
    """

    def prepare(self, job: Job) -> None:
        job.work_dir.mkdir(parents=True, exist_ok=True)

    def train(self, job: Job) -> None:
        if not is_trained(job):
            save_model(job, **self.fit(job, training_sequences(job)))

    def render(self, job: Job) -> None:
        model = load_model(job)
        render_sequences(job, self.predictor(job, model), self.describe(model))

    def fit(self, job: Job, seqs: list[SequenceData]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def predictor(self, job: Job, model: dict[str, np.ndarray]) -> Callable[[SequenceData], list[np.ndarray]]:
        raise NotImplementedError

    def describe(self, model: dict[str, np.ndarray]) -> dict:
        return {}


def standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (std floored so constant dimensions do not blow up)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 1e-8, std, 1.0)


def dumps(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True)
