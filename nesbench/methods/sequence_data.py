"""Reading a sequence's FLAME parameters and images for methods that learn directly from the dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nesbench.data.layout import FLAME_JSON, frame_number_of, read_flame_json
from nesbench.errors import DataError
from nesbench.fsutil import write_bytes_atomic

JAW = slice(6, 9)
HEAD = slice(0, 6)  # global + neck rotation


@dataclass(frozen=True)
class SequenceData:
    """Per-frame FLAME parameters of one sequence (frames in json order, 1-based numbers)."""

    folder: Path
    frames: tuple[int, ...]
    expression: np.ndarray  # (N, 50)
    pose: np.ndarray  # (N, 15): global, neck, jaw, eye L, eye R (axis-angle)

    def image_path(self, k: int) -> Path:
        return self.folder / "image" / f"{k}.png"

    def foreground(self, k: int, size: int | None = None) -> np.ndarray:
        return read_foreground(self.folder, k, size)


def load_sequence(folder: Path) -> SequenceData:
    """Parameters of one sequence folder (``.../<seq>/`` holding flame_params.json)."""
    path = Path(folder) / FLAME_JSON
    data = read_flame_json(path)
    frames, expr, pose = [], [], []
    for i, fr in enumerate(data["frames"]):
        k = frame_number_of(fr.get("file_path", ""))
        if k is None:
            raise DataError(
                f"{path}: frames[{i}].file_path {fr.get('file_path')!r} does not end in a frame number"
            )
        frames.append(k)
        expr.append(fr.get("expression"))
        pose.append(fr.get("pose"))
    try:
        expression = np.asarray(expr, dtype=np.float64).reshape(len(frames), 50)
        poses = np.asarray(pose, dtype=np.float64).reshape(len(frames), 15)
    except ValueError:
        raise DataError(
            f"{path}: expression must have 50 and pose 15 values per frame (run `nesbench data check`)"
        ) from None
    return SequenceData(Path(folder), tuple(frames), expression, poses)


def read_rgb_float(path: Path, size: int | None = None) -> np.ndarray:
    """An image as float32 RGB in [0, 1], optionally resized (bilinear) to size x size: what methods train on.
    Scoring decodes with :func:`nesbench.metrics.images.read_rgb` (uint8, strict checks) instead."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: missing or not a readable image")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if size is not None and img.shape[:2] != (size, size):
        img = cv2.resize(
            img, (size, size), interpolation=cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
        )
    return img.astype(np.float32) / 255.0


def read_mask(path: Path, size: int | None = None) -> np.ndarray:
    """A soft matte in [0, 1] (H, W, 1) from channel 0 of a 1- or 3-channel mask PNG."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f"{path}: missing or not a readable mask")
    m = (img if img.ndim == 2 else img[..., 0]).astype(np.float32) / (
        65535.0 if img.dtype == np.uint16 else 255.0
    )
    if size is not None and m.shape[:2] != (size, size):
        m = cv2.resize(
            m, (size, size), interpolation=cv2.INTER_AREA if m.shape[0] > size else cv2.INTER_LINEAR
        )
    return m[..., None]


def read_foreground(folder: Path, k: int, size: int | None = None) -> np.ndarray:
    """Frame k of a sequence folder composited on white with its soft mask, as avatar methods see their targets."""
    folder = Path(folder)
    return composite_on_white(
        read_rgb_float(folder / "image" / f"{k}.png", size), read_mask(folder / "mask" / f"{k}.png", size)
    )


def composite_on_white(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return rgb * mask + (1.0 - mask)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1] (or uint8) as an 8-bit PNG, atomically."""
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(f"{path}: could not encode PNG")
    write_bytes_atomic(path, buf.tobytes())
