"""Facial keypoint error with face-alignment (FAN 2D), when it and its weights are available.

Without it the column is reported as unavailable with the reason. A frame on which FAN finds no face: under
``renderme-imavatar`` it is dropped from every metric and counted (``dropped`` in the results), as the benchmark's
metrics.py:239-242 does; under ``unified`` it keeps its other values and gets no keypoint value, with a per-frame
note. Without face-alignment the results say that the drop rule could not be applied.

FAN's weights are in no package registry (face-alignment downloads them on first use). Offline, put the files it
downloads (2DFAN4-*.pth.tar or 2DFAN4*.zip, and s3fd-*.pth) in a folder and pass it as ``--fan-weights DIR`` (or
``$NESBENCH_FAN_WEIGHTS``); ``<nesbench cache>/weights/face-alignment/`` is used when it exists.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nesbench.paths import user_cache_dir

INSTALL_HINT = "pip install -e .[keypoints]"
ENV_FAN_WEIGHTS = "NESBENCH_FAN_WEIGHTS"
FAN_FILES = "2DFAN4-11f355bf06.pth.tar and s3fd-619a316812.pth for face-alignment 1.5"


def fan_weights_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The folder of FAN weight files: ``explicit``, $NESBENCH_FAN_WEIGHTS, else the cache's face-alignment/ when
    present; None: face-alignment's own torch hub cache (and download)."""
    chosen = explicit or os.environ.get(ENV_FAN_WEIGHTS)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_dir():
            raise ValueError(f"{path}: FAN weights folder not found (it should hold {FAN_FILES})")
        return path
    default = user_cache_dir() / "weights" / "face-alignment"
    return default if default.is_dir() else None


@contextlib.contextmanager
def torch_hub_checkpoints(folder: Path | None) -> Iterator[None]:
    """Make torch.hub (where face-alignment looks for its files before downloading) see ``folder`` as its
    checkpoints/ folder for the duration."""
    if folder is None:
        yield
        return
    import torch.hub  # noqa: PLC0415

    before = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="nesbench-fan-") as hub:
        os.symlink(folder.resolve(), Path(hub) / "checkpoints")
        torch.hub.set_dir(hub)
        try:
            yield
        finally:
            torch.hub.set_dir(before)


class NoFaceDetected(Exception):
    """FAN found no face in a prediction."""


class KeypointDetector:
    """FAN 2D landmarks (68 points) on uint8 RGB images; ``error(img, target)`` = mean pixel distance."""

    def __init__(self, device: str = "cpu", weights: Path | None = None):
        fa = importlib.import_module("face_alignment")
        kind = getattr(fa.LandmarksType, "TWO_D", None) or fa.LandmarksType._2D
        with torch_hub_checkpoints(weights):  # both networks are loaded here
            self.model = fa.FaceAlignment(kind, flip_input=False, device=device)

    def error(self, image: np.ndarray, target: np.ndarray) -> float:
        found = self.model.get_landmarks(image)
        if not found:
            raise NoFaceDetected("no face detected by face-alignment on the prediction")
        pred = np.asarray(found[0], dtype=np.float64)[:68]
        return float(np.mean(np.sqrt(np.sum((pred - target) ** 2, axis=-1))))


def load_detector(
    device: str, weights: str | os.PathLike[str] | None = None
) -> tuple[KeypointDetector | None, str | None]:
    """(detector, None) when face-alignment works here, else (None, 'unavailable: <reason and fix>').
    ``weights``: folder of FAN weight files (see :func:`fan_weights_dir`)."""
    try:
        importlib.import_module("face_alignment")
    except ImportError:
        return (
            None,
            f"unavailable: face-alignment not installed ({INSTALL_HINT}); its FAN weights download on first use "
            f"or come from --fan-weights DIR",
        )
    try:
        folder = fan_weights_dir(weights)
        return KeypointDetector(device, folder), None
    except Exception as exc:  # weights missing (offline), CUDA errors, ...: report, do not crash the scoring
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return None, (
            f"unavailable: face-alignment could not start ({type(exc).__name__}: {first}); its FAN weights must be "
            f"downloadable, in the torch hub cache, or in a folder given as --fan-weights DIR ({FAN_FILES})"
        )
