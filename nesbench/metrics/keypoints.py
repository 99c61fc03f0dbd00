"""Facial keypoint error with face-alignment (FAN 2D), when it and its weights are available.

Without it the column is reported as unavailable with the reason. A frame on which FAN finds no face: under
``renderme-imavatar`` it is dropped from every metric and counted (``dropped`` in the results), as the benchmark's
metrics.py:239-242 does; under ``unified`` it keeps its other values and gets no keypoint value, with a per-frame
note. Without face-alignment the results say that the drop rule could not be applied.
"""

from __future__ import annotations

import importlib

import numpy as np

INSTALL_HINT = "pip install -e .[keypoints]"


class NoFaceDetected(Exception):
    """FAN found no face in a prediction."""


class KeypointDetector:
    """FAN 2D landmarks (68 points) on uint8 RGB images; ``error(img, target)`` = mean pixel distance."""

    def __init__(self, device: str = "cpu"):
        fa = importlib.import_module("face_alignment")
        kind = getattr(fa.LandmarksType, "TWO_D", None) or fa.LandmarksType._2D
        self.model = fa.FaceAlignment(kind, flip_input=False, device=device)

    def error(self, image: np.ndarray, target: np.ndarray) -> float:
        found = self.model.get_landmarks(image)
        if not found:
            raise NoFaceDetected("no face detected by face-alignment on the prediction")
        pred = np.asarray(found[0], dtype=np.float64)[:68]
        return float(np.mean(np.sqrt(np.sum((pred - target) ** 2, axis=-1))))


def load_detector(device: str) -> tuple[KeypointDetector | None, str | None]:
    """(detector, None) when face-alignment works here, else (None, 'unavailable: <reason and fix>')."""
    try:
        importlib.import_module("face_alignment")
    except ImportError:
        return (
            None,
            f"unavailable: face-alignment not installed ({INSTALL_HINT}); its FAN weights download on first use",
        )
    try:
        return KeypointDetector(device), None
    except Exception as exc:  # weights missing (offline), CUDA errors, ...: report, do not crash the scoring
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return None, (
            f"unavailable: face-alignment could not start ({type(exc).__name__}: {first}); its FAN weights must be "
            f"downloadable or already in the torch hub cache"
        )
