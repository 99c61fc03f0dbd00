"""Linear expression-to-appearance model: ridge regression from FLAME parameters to a PCA image basis.

Training frames are resized to a working resolution (at most ``work_res``, default 256), flattened and reduced to
their top principal components (scikit-learn PCA); a ridge regression maps standardised [expression(50), global(3), neck(3), jaw(3)] to those coefficients, with
its strength chosen by leave-one-SEQUENCE-out cross-validation (scikit-learn LeaveOneGroupOut): holding out whole
training sequences mimics the test, which is always a sequence never seen in training, so the fit is as
regularised as generalising to novel expressions requires (at the limit it predicts the mean image). Prediction
reconstructs the image and resizes it back to the ground-truth size. Being linear in the parameters, it
interpolates to unseen expressions, unlike retrieval. Test parameters are clamped to the training range of each
feature (plus a 10 % margin), so expressions far outside the training set (speech training -> expression tests)
cannot extrapolate to saturated images. Training targets are frames composited on white with their soft mask.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.model_selection import LeaveOneGroupOut, cross_val_score

from nesbench.methods.baselines.common import Baseline, standardizer
from nesbench.methods.sequence_data import SequenceData, read_rgb_float
from nesbench.methods.spec import Job

MAX_TRAIN_FRAMES = 1024
ALPHAS = np.logspace(-2, 5, 15)


def select_alpha(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Ridge strength with the lowest leave-one-sequence-out error (plain LOO when there is one sequence)."""
    if len(np.unique(groups)) < 2:
        from sklearn.linear_model import RidgeCV

        return float(RidgeCV(alphas=ALPHAS).fit(x, y).alpha_)
    cv = LeaveOneGroupOut()

    def score(a: float) -> float:
        return cross_val_score(
            Ridge(alpha=a), x, y, groups=groups, cv=cv, scoring="neg_mean_squared_error"
        ).mean()

    return float(max(ALPHAS, key=score))


def pose_expression_features(data: SequenceData) -> np.ndarray:
    return np.concatenate([data.expression, data.pose[:, 0:9]], axis=1)


class LinearExpression(Baseline):
    """Ridge regression on a low-rank image basis."""

    def __init__(self, work_res: int = 256, components: int = 48) -> None:
        self.work_res = work_res
        self.components = components

    def fit(self, job: Job, seqs: list[SequenceData]) -> dict[str, np.ndarray]:
        items = [(s, k) for s in seqs for k in s.frames]
        keep = np.linspace(0, len(items) - 1, min(len(items), MAX_TRAIN_FRAMES)).round().astype(int)
        first = read_rgb_float(seqs[0].image_path(seqs[0].frames[0]))
        size = min(self.work_res, first.shape[0])
        images = np.stack([items[i][0].foreground(items[i][1], size).ravel() for i in keep])
        feats_all = np.concatenate([pose_expression_features(s) for s in seqs])[keep]
        groups = np.concatenate([np.full(len(s.frames), i) for i, s in enumerate(seqs)])[keep]
        mean, std = standardizer(feats_all)
        lo, hi = feats_all.min(axis=0), feats_all.max(axis=0)
        margin = 0.1 * (hi - lo)
        pca = PCA(n_components=min(self.components, len(keep) - 1), svd_solver="randomized", random_state=0)
        coeffs = pca.fit_transform(images)
        x = (feats_all - mean) / std
        alpha = select_alpha(x, coeffs, groups)
        ridge = Ridge(alpha=alpha).fit(x, coeffs)
        return {
            "mean": mean,
            "std": std,
            "lo": lo - margin,
            "hi": hi + margin,
            "coef": ridge.coef_,
            "intercept": np.atleast_1d(ridge.intercept_),
            "alpha": np.array(alpha),
            "basis": pca.components_.astype(np.float32),
            "image_mean": pca.mean_.astype(np.float32),
            "size": np.array([size, first.shape[0], first.shape[1]]),
        }

    def predictor(self, job: Job, model: dict[str, np.ndarray]) -> Callable[[SequenceData], list[np.ndarray]]:
        m = model
        size, out_h, out_w = (int(v) for v in m["size"])

        def predict(data: SequenceData) -> list[np.ndarray]:
            feats = np.clip(pose_expression_features(data), m["lo"], m["hi"])
            coeffs = ((feats - m["mean"]) / m["std"]) @ m["coef"].T + m["intercept"]
            flat = coeffs.astype(np.float32) @ m["basis"] + m["image_mean"]
            imgs = np.clip(flat.reshape(-1, size, size, 3), 0.0, 1.0)
            if (out_h, out_w) != (size, size):
                return [cv2.resize(im, (out_w, out_h), interpolation=cv2.INTER_LINEAR) for im in imgs]
            return list(imgs)

        return predict

    def describe(self, model: dict[str, np.ndarray]) -> dict:
        return {
            "work_res": int(model["size"][0]),
            "components": int(model["basis"].shape[0]),
            "ridge_alpha": float(model["alpha"]),
        }
