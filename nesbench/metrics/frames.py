"""Raw inputs of one frame (decoded once, shared by every scorer) and the ground-truth sequence they come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from nesbench.data.layout import frame_number_of, read_flame_json
from nesbench.errors import DataError
from nesbench.metrics.images import FrameError, read_png, read_rgb, read_semantic

CLOTH_LABELS = (15, 16)  # face-parsing labels removed by PointAvatar's no_cloth mask: necklace, cloth


@dataclass
class GtSequence:
    """One ground-truth sequence folder: image/, mask/, semantic/ and its flame_params.json frames by number."""

    dir: Path
    frames: dict[int, dict]

    @property
    def expected(self) -> list[int]:
        return sorted(self.frames)


def load_gt_sequence(gt_dir: Path) -> GtSequence:
    """Read flame_params.json of a GT sequence; DataError naming the folder and the fix when it is not one."""
    gt_dir = Path(gt_dir)
    if not gt_dir.is_dir():
        raise DataError(
            f"{gt_dir}: ground-truth sequence folder not found (expected image/, mask/, flame_params.json)"
        )
    data = read_flame_json(gt_dir / "flame_params.json")
    frames: dict[int, dict] = {}
    for i, fr in enumerate(data["frames"]):
        k = frame_number_of(fr.get("file_path", "")) if isinstance(fr, dict) else None
        if k is None:
            raise DataError(
                f"{gt_dir / 'flame_params.json'}: frames[{i}].file_path does not end in a frame number"
            )
        if k in frames:
            raise DataError(f"{gt_dir / 'flame_params.json'}: frame {k} is listed twice")
        frames[k] = fr
    if not frames:
        raise DataError(f"{gt_dir / 'flame_params.json'}: no frames")
    return GtSequence(gt_dir, frames)


def gt_resolution(seq: GtSequence) -> int:
    """Width in pixels of the sequence's first readable GT image (PNG header only), the evaluation resolution that
    benchmark mode uses for a benchmark rendered at that size; DataError when no GT image can be opened."""
    for k in seq.expected:
        try:
            with Image.open(seq.dir / "image" / f"{k}.png") as im:
                return int(im.size[0])
        except (OSError, ValueError):
            continue
    raise DataError(
        f"{seq.dir / 'image'}: no readable ground-truth image to take the evaluation resolution from; "
        "fix the GT images or pass --resolution N"
    )


@dataclass
class RawGt:
    """Decoded GT of frame k: RGB uint8, 3-channel uint8 mask, semantic labels (uint8 when integral, else float32;
    None if absent)."""

    k: int
    image: np.ndarray
    mask: np.ndarray
    semantic: np.ndarray | None
    semantic_error: str | None
    keypoints: np.ndarray | None  # 68x2 FLAME keypoints in [-1, 1], None if absent
    paths: dict[str, Path] = field(default_factory=dict)


def read_gt_frame(seq: GtSequence, k: int, want_semantic: bool) -> RawGt:
    """Decode GT frame k; FrameError for a missing or corrupt image/mask. A 1-channel mask is expanded to the
    3-channel mask the legacy scripts expect (same value in each channel)."""
    d = seq.dir
    image = read_rgb(d / "image" / f"{k}.png")
    mask = read_png(d / "mask" / f"{k}.png")
    if mask.ndim == 2:
        mask = np.repeat(mask[:, :, None], 3, axis=2)
    elif mask.shape[2] == 4:
        mask = mask[:, :, :3]
    elif mask.shape[2] != 3:
        raise FrameError(f"{d / 'mask' / f'{k}.png'}: {mask.shape[2]}-channel mask; save it as grey or RGB")
    if mask.shape[:2] != image.shape[:2]:
        raise FrameError(
            f"{d / 'mask' / f'{k}.png'}: {mask.shape[1]}x{mask.shape[0]} mask for a "
            f"{image.shape[1]}x{image.shape[0]} image; regenerate the mask at the image size"
        )
    semantic, sem_err = None, None
    if want_semantic:
        try:
            semantic = read_semantic(d / "semantic" / f"{k}.png")
        except FrameError as exc:
            sem_err = str(exc)
    return RawGt(k, image, mask, semantic, sem_err, gt_keypoints(seq, k), gt_paths(seq, k))


def gt_keypoints(seq: GtSequence, k: int) -> np.ndarray | None:
    """The first 68 ``flame_keypoints`` of frame k (68x2, in [-1, 1]); None when absent or not N x 2."""
    kps = seq.frames[k].get("flame_keypoints")
    if kps is None:
        return None
    arr = np.asarray(kps, dtype=np.float64)
    return arr[:68] if arr.ndim == 2 and arr.shape[0] >= 68 and arr.shape[1] == 2 else None


def gt_paths(seq: GtSequence, k: int) -> dict[str, Path]:
    """The image and mask files of frame k (named in the scorers' error messages)."""
    return {"image": seq.dir / "image" / f"{k}.png", "mask": seq.dir / "mask" / f"{k}.png"}
